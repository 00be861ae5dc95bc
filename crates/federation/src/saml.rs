//! SAML 2.0 responses: strict parsing, exclusive C14N and XML-DSig verification.
