"""OAuth2 access tokens for SMTP's XOAUTH2: what a service says about its token endpoint
(`config`), what a token request carries and brings back (`tokens`), the one request that gets a
token (`client`), and the process's tokens kept until shortly before they expire (`cache`).
Failures are `errors.OAuth2TokenFailed`.

Two grants (RFC 6749): client credentials (§4.4; Microsoft 365's `SMTP.SendAsApp`), used when
no refresh token is given, and a refresh token (§6; Gmail, delegated Microsoft 365). Neither
the client secret nor the refresh token is ever stored outside Secrets Manager, shown, logged
or sent anywhere but the token endpoint they were given for.
"""
