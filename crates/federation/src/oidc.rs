//! OpenID Connect ID tokens: JWT parsing and verification against a JWKS.
