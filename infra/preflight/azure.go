package preflight

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azruntime "github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"

	"caa-azure/infra/azauth"
)

// AzureCloud is Cloud on the Azure Resource Manager API.
type AzureCloud struct {
	subscriptionID string
	skus           *armcompute.ResourceSKUsClient
	usage          *armcompute.UsageClient
	community      *armcompute.CommunityGalleryImageVersionsClient
	images         *armcompute.ImagesClient
	versions       *armcompute.GalleryImageVersionsClient
	vms            *armcompute.VirtualMachinesClient
	arm            *arm.Client
}

// ErrNoCredentials means no Azure login was found; the checks are skipped.
var ErrNoCredentials = errors.New("no Azure credentials")

// NewAzureCloud signs in as the azure-native provider does (azauth: the
// provider's ARM_* settings, then AZURE_*, then the Azure CLI) and proves
// it with one token request. With only the CLI to try, no login means
// ErrNoCredentials, so an offline preview or test skips at once instead of
// waiting on the network.
func NewAzureCloud(ctx context.Context, subscriptionID string, settings azauth.Settings) (*AzureCloud, error) {
	cred, kind, err := azauth.Credential(settings)
	if err != nil {
		return nil, err
	}
	tokenCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := azauth.Token(tokenCtx, cred); err != nil {
		// SDK sign-in errors carry a long trace after their first line.
		first, _, _ := strings.Cut(err.Error(), "\n")
		if kind == azauth.AzureCLI {
			return nil, fmt.Errorf("%w: %v", ErrNoCredentials, first)
		}
		return nil, fmt.Errorf("signing in with the %s failed: %v", kind, first)
	}
	a := &AzureCloud{subscriptionID: subscriptionID}
	if a.skus, err = armcompute.NewResourceSKUsClient(subscriptionID, cred, nil); err != nil {
		return nil, err
	}
	if a.usage, err = armcompute.NewUsageClient(subscriptionID, cred, nil); err != nil {
		return nil, err
	}
	if a.community, err = armcompute.NewCommunityGalleryImageVersionsClient(subscriptionID, cred, nil); err != nil {
		return nil, err
	}
	if a.images, err = armcompute.NewImagesClient(subscriptionID, cred, nil); err != nil {
		return nil, err
	}
	if a.versions, err = armcompute.NewGalleryImageVersionsClient(subscriptionID, cred, nil); err != nil {
		return nil, err
	}
	if a.vms, err = armcompute.NewVirtualMachinesClient(subscriptionID, cred, nil); err != nil {
		return nil, err
	}
	if a.arm, err = arm.NewClient("caa-azure/preflight", "v1", cred, nil); err != nil {
		return nil, err
	}
	return a, nil
}

// SKUs lists the VM sizes of a region with their restrictions.
func (a *AzureCloud) SKUs(ctx context.Context, location string) ([]SKU, error) {
	filter := fmt.Sprintf("location eq '%s'", location)
	pager := a.skus.NewListPager(&armcompute.ResourceSKUsClientListOptions{Filter: &filter})
	var out []SKU
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range page.Value {
			if s == nil || deref(s.ResourceType) != "virtualMachines" {
				continue
			}
			sku := SKU{Name: deref(s.Name), Family: deref(s.Family)}
			for _, c := range s.Capabilities {
				switch deref(c.Name) {
				case "vCPUs":
					sku.VCPUs, _ = strconv.Atoi(deref(c.Value))
				case "CpuArchitectureType":
					sku.Arch = deref(c.Value)
				case "MemoryGB":
					sku.MemoryGB, _ = strconv.ParseFloat(deref(c.Value), 64)
				}
			}
			for _, r := range s.Restrictions {
				if r == nil || r.Type == nil || *r.Type != armcompute.ResourceSKURestrictionsTypeLocation {
					continue
				}
				reason := "restricted"
				if r.ReasonCode != nil {
					reason = string(*r.ReasonCode)
				}
				sku.Restricted = reason
			}
			out = append(out, sku)
		}
	}
	return out, nil
}

// Usages lists the regional vCPU quota counters.
func (a *AzureCloud) Usages(ctx context.Context, location string) ([]Usage, error) {
	pager := a.usage.NewListPager(location, nil)
	var out []Usage
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, u := range page.Value {
			if u == nil || u.Name == nil {
				continue
			}
			out = append(out, Usage{Name: deref(u.Name.Value), Current: int(deref32(u.CurrentValue)), Limit: int(deref64(u.Limit))})
		}
	}
	return out, nil
}

// ImageInRegion checks a community gallery image version, a managed image
// or a gallery image version.
func (a *AzureCloud) ImageInRegion(ctx context.Context, imageID, location string) error {
	parts := strings.Split(strings.Trim(imageID, "/"), "/")
	switch {
	case len(parts) == 7 && strings.EqualFold(parts[0], "CommunityGalleries"):
		_, err := a.community.Get(ctx, location, parts[1], parts[3], parts[5], nil)
		return notFoundAs(err)
	case len(parts) == 8 && strings.EqualFold(parts[6], "images"):
		img, err := a.images.Get(ctx, parts[3], parts[7], nil)
		if err != nil {
			return notFoundAs(err)
		}
		if !sameRegion(deref(img.Location), location) {
			return fmt.Errorf("%w: the image is in %s", ErrNotFound, deref(img.Location))
		}
		return nil
	case len(parts) == 12 && strings.EqualFold(parts[6], "galleries"):
		expand := armcompute.ReplicationStatusTypesReplicationStatus
		v, err := a.versions.Get(ctx, parts[3], parts[7], parts[9], parts[11], &armcompute.GalleryImageVersionsClientGetOptions{Expand: &expand})
		if err != nil {
			return notFoundAs(err)
		}
		if v.Properties != nil && v.Properties.PublishingProfile != nil {
			for _, r := range v.Properties.PublishingProfile.TargetRegions {
				if r != nil && sameRegion(deref(r.Name), location) {
					return nil
				}
			}
		}
		return fmt.Errorf("%w: the version is not replicated to %s", ErrNotFound, location)
	}
	return fmt.Errorf("%q is not a community gallery, managed image or gallery image version id", imageID)
}

// get reads one ARM URL (path and query) into out.
func (a *AzureCloud) get(ctx context.Context, pathAndQuery string, out any) error {
	req, err := azruntime.NewRequest(ctx, http.MethodGet, a.arm.Endpoint()+pathAndQuery)
	if err != nil {
		return err
	}
	resp, err := a.arm.Pipeline().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return azruntime.NewResponseError(resp)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Allowed asks ARM for the caller's permissions at scope.
func (a *AzureCloud) Allowed(ctx context.Context, scope, action string) (bool, error) {
	var body struct {
		Value []struct {
			Actions    []string `json:"actions"`
			NotActions []string `json:"notActions"`
		} `json:"value"`
	}
	if err := a.get(ctx, strings.TrimSuffix(scope, "/")+"/providers/Microsoft.Authorization/permissions?api-version=2022-04-01", &body); err != nil {
		return false, err
	}
	for _, p := range body.Value {
		if ActionAllowed(p.Actions, p.NotActions, action) {
			return true, nil
		}
	}
	return false, nil
}

// Footprint lists the subscription's resources that carry the stack tag,
// then reads the sizes of its VMs and of its cluster's node pools.
func (a *AzureCloud) Footprint(ctx context.Context, tag Tag) (Footprint, error) {
	fp := Footprint{VMs: map[string]int{}}
	filter := url.QueryEscape(fmt.Sprintf("tagName eq '%s' and tagValue eq '%s'", tag.Key, tag.Value))
	next := "/subscriptions/" + a.subscriptionID + "/resources?api-version=2021-04-01&$filter=" + filter
	for next != "" {
		var page struct {
			Value []struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			} `json:"value"`
			NextLink string `json:"nextLink"`
		}
		if err := a.get(ctx, next, &page); err != nil {
			return fp, err
		}
		next = strings.TrimPrefix(page.NextLink, a.arm.Endpoint())
		for _, r := range page.Value {
			switch strings.ToLower(r.Type) {
			case "microsoft.containerservice/managedclusters":
				fp.Cluster = r.ID
				var mc struct {
					Properties struct {
						AgentPoolProfiles []struct {
							Count  int    `json:"count"`
							VMSize string `json:"vmSize"`
						} `json:"agentPoolProfiles"`
					} `json:"properties"`
				}
				if err := a.get(ctx, r.ID+"?api-version=2024-05-01", &mc); err != nil {
					return fp, err
				}
				for _, p := range mc.Properties.AgentPoolProfiles {
					fp.VMs[p.VMSize] += p.Count
				}
			case "microsoft.compute/virtualmachines":
				parts := strings.Split(strings.Trim(r.ID, "/"), "/")
				if len(parts) < 8 {
					continue
				}
				vm, err := a.vms.Get(ctx, parts[3], parts[7], nil)
				if err != nil {
					return fp, err
				}
				if vm.Properties != nil && vm.Properties.HardwareProfile != nil && vm.Properties.HardwareProfile.VMSize != nil {
					fp.VMs[string(*vm.Properties.HardwareProfile.VMSize)]++
				}
			}
		}
	}
	return fp, nil
}

// KubernetesVersions lists the versions AKS offers in a region.
func (a *AzureCloud) KubernetesVersions(ctx context.Context, location string) ([]string, error) {
	var body struct {
		Values []struct {
			Version   string `json:"version"`
			IsPreview bool   `json:"isPreview"`
		} `json:"values"`
	}
	if err := a.get(ctx, "/subscriptions/"+a.subscriptionID+"/providers/Microsoft.ContainerService/locations/"+location+
		"/kubernetesVersions?api-version=2024-05-01", &body); err != nil {
		return nil, err
	}
	var out []string
	for _, v := range body.Values {
		if !v.IsPreview {
			out = append(out, v.Version)
		}
	}
	return out, nil
}

// GroupExists reports whether a resource group exists.
func (a *AzureCloud) GroupExists(ctx context.Context, name string) (bool, error) {
	var body struct{}
	err := a.get(ctx, "/subscriptions/"+a.subscriptionID+"/resourcegroups/"+url.PathEscape(name)+"?api-version=2021-04-01", &body)
	if errors.Is(notFoundAs(err), ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func sameRegion(a, b string) bool {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, " ", "")) }
	return norm(a) == norm(b)
}

func notFoundAs(err error) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w: %s", ErrNotFound, re.ErrorCode)
	}
	return err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func deref32(v *int32) int32 {
	if v == nil {
		return 0
	}
	return *v
}

func deref64(v *int64) int64 {
	if v == nil {
		return 0
	}
	return *v
}
