package jpki

import "fmt"

// cms handles FormCMS.
func (v *Verifier) cms(r *run, challenge []byte, ch *Challenge, sig Signature) (*signed, error) {
	return nil, fmt.Errorf("%w: CMS form not wired yet", ErrSignatureFormat)
}
