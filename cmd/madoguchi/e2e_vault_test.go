package main

import "github.com/madoguchi/madoguchi/vault"

func vaultSubject(tenantID, subject string) vault.SubjectRef {
	return vault.SubjectRef{Tenant: tenantID, Subject: subject}
}
