package azauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// githubToken asks GitHub Actions for an OIDC token with Entra's audience,
// as the provider does when ARM_USE_OIDC runs in a workflow.
func githubToken(ctx context.Context, requestURL, bearer string) (string, error) {
	if requestURL == "" || bearer == "" {
		return "", errors.New("no OIDC token source: ARM_OIDC_TOKEN, ARM_OIDC_TOKEN_FILE_PATH or GitHub's ACTIONS_ID_TOKEN_REQUEST_URL")
	}
	u, err := url.Parse(requestURL)
	if err != nil {
		return "", fmt.Errorf("ARM_OIDC_REQUEST_URL: %w", err)
	}
	q := u.Query()
	q.Set("audience", "api://AzureADTokenExchange")
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GitHub's OIDC endpoint answered %s", resp.Status)
	}
	var body struct {
		Value string `json:"value"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", err
	}
	if body.Value == "" {
		return "", errors.New("GitHub's OIDC endpoint returned no token")
	}
	return body.Value, nil
}
