-- tls_client_auth (RFC 8705 §2.1): a client recognised by one name in its
-- TLS client certificate (subject DN or a subjectAltName) issued by the CA
-- registered with it. NULL for the other authentication methods.
ALTER TABLE api_clients ADD COLUMN tls_name_kind TEXT;
ALTER TABLE api_clients ADD COLUMN tls_name TEXT;
ALTER TABLE api_clients ADD COLUMN tls_ca_pem TEXT;
