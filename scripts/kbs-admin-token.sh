#!/bin/sh
# Mints a KBS admin token for kbs-client from trustee v0.21.0 (CAA 0.22.0),
# which takes --admin-token-file instead of the admin's private key: an
# EdDSA JWT with {"role": "admin"} and an expiry (the KBS refuses a token
# without "exp"), signed with the key `pulumi stack output
# kbsAdminPrivateKey --show-secrets` prints, as CAA's e2e signs it
# (test/provisioner/trustee_kbs.go). Needs OpenSSL 3.
#
#   scripts/kbs-admin-token.sh admin.pem [seconds, default 3600] > admin-token
set -eu
key=${1:?usage: $0 <admin private key PEM> [lifetime seconds]}
lifetime=${2:-3600}
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
header=$(printf '{"alg":"EdDSA","typ":"JWT"}' | b64url)
payload=$(printf '{"role":"admin","exp":%d}' $(( $(date +%s) + lifetime )) | b64url)
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
printf '%s.%s' "$header" "$payload" > "$tmp"
signature=$(openssl pkeyutl -sign -inkey "$key" -rawin -in "$tmp" | b64url)
printf '%s.%s.%s\n' "$header" "$payload" "$signature"
