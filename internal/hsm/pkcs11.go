//go:build cgo

package hsm

// The PKCS#11 side, through github.com/miekg/pkcs11 (a thin binding of
// the C interface; the module is dlopen'ed). C_Initialize is per process,
// so modules are kept in one registry, counted by the keys using them; the
// login state is per token and process, so the registry also remembers a
// digest of the PIN a token was logged in with, and a second key opened
// with another PIN is refused rather than riding on the first login.

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/miekg/pkcs11"
)

// Constants of PKCS#11 v3.0 that miekg/pkcs11 v1.1.2 does not define.
const (
	ckkECEdwards           = 0x40
	ckkECMontgomery        = 0x41
	ckmECEdwardsKeyPairGen = 0x1055
	ckmEdDSA               = 0x1057
)

type module struct {
	path   string
	ctx    *pkcs11.Ctx
	refs   int
	logins map[uint]*login // by slot
}

type login struct {
	pin  [sha256.Size]byte
	keys int
}

var registry struct {
	sync.Mutex
	modules map[string]*module
}

// key is one private key object and the session it is used through.
type key struct {
	mu     sync.Mutex // one operation at a time on the session
	mod    *module
	slot   uint
	sess   pkcs11.SessionHandle
	obj    pkcs11.ObjectHandle
	closed bool
}

// acquire loads and initialises the module at path (once per process);
// the caller holds registry and calls release on failure.
func acquire(path string) (*module, error) {
	if m := registry.modules[path]; m != nil {
		m.refs++
		return m, nil
	}
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModule, err) // names the path
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrModule, path)
	} else if st.Mode().Perm()&0o022 != 0 {
		// Loading it runs its code in this process with the key's PIN.
		return nil, fmt.Errorf("%w: %s is writable by group or others (mode %04o)", ErrModule, path, st.Mode().Perm())
	}
	ctx := pkcs11.New(path)
	if ctx == nil {
		return nil, fmt.Errorf("%w: %s does not load as a PKCS#11 module (dlopen or C_GetFunctionList failed)", ErrModule, path)
	}
	if err := ctx.Initialize(); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		ctx.Destroy()
		return nil, fmt.Errorf("%w: %s: C_Initialize: %w", ErrModule, path, err)
	}
	m := &module{path: path, ctx: ctx, refs: 1, logins: map[uint]*login{}}
	if registry.modules == nil {
		registry.modules = map[string]*module{}
	}
	registry.modules[path] = m
	return m, nil
}

func (m *module) release() {
	m.refs--
	if m.refs == 0 {
		m.ctx.Finalize()
		m.ctx.Destroy()
		delete(registry.modules, m.path)
	}
}

// token finds the one slot whose token has u's label (and serial).
func (m *module) token(u URI) (uint, error) {
	slots, err := m.ctx.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: C_GetSlotList: %w", ErrModule, m.path, err)
	}
	var found []uint
	for _, s := range slots {
		ti, err := m.ctx.GetTokenInfo(s)
		if err != nil {
			continue
		}
		if ti.Label == u.Token && (u.Serial == "" || ti.SerialNumber == u.Serial) {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 0:
		return 0, fmt.Errorf("%w: no token labelled %q in %s", ErrToken, u.Token, m.path)
	case 1:
		return found[0], nil
	}
	return 0, fmt.Errorf("%w: %d tokens labelled %q in %s (add serial= to the URI)", ErrToken, len(found), u.Token, m.path)
}

// login logs the session's token in as the user, or checks that the PIN
// is the one it was logged in with by an earlier key of this process.
func (m *module) login(slot uint, sess pkcs11.SessionHandle, pin string) error {
	h := sha256.Sum256([]byte(pin))
	if l := m.logins[slot]; l != nil {
		if subtle.ConstantTimeCompare(l.pin[:], h[:]) != 1 {
			return fmt.Errorf("%w: the token is logged in by this process with another PIN", ErrPIN)
		}
		l.keys++
		return nil
	}
	if err := m.ctx.Login(sess, pkcs11.CKU_USER, pin); err != nil {
		// The code names the reason (CKR_PIN_INCORRECT, CKR_PIN_LOCKED…),
		// never the PIN.
		return fmt.Errorf("%w: C_Login: %w", ErrPIN, err)
	}
	m.logins[slot] = &login{pin: h, keys: 1}
	return nil
}

func (m *module) logout(slot uint) {
	if l := m.logins[slot]; l != nil {
		if l.keys--; l.keys == 0 {
			delete(m.logins, slot) // closing the token's last session logs it out
		}
	}
}

// session opens a logged-in session on u's token; done undoes it.
func session(u URI, rw bool) (m *module, slot uint, sess pkcs11.SessionHandle, done func(), err error) {
	pin, err := readPIN(u)
	if err != nil {
		return nil, 0, 0, nil, err
	}
	registry.Lock()
	defer registry.Unlock()
	if m, err = acquire(u.ModulePath); err != nil {
		return nil, 0, 0, nil, err
	}
	fail := func(e error) (*module, uint, pkcs11.SessionHandle, func(), error) {
		m.release()
		return nil, 0, 0, nil, e
	}
	if slot, err = m.token(u); err != nil {
		return fail(err)
	}
	flags := uint(pkcs11.CKF_SERIAL_SESSION)
	if rw {
		flags |= pkcs11.CKF_RW_SESSION
	}
	if sess, err = m.ctx.OpenSession(slot, flags); err != nil {
		return fail(fmt.Errorf("%w: token %q: C_OpenSession: %w", ErrToken, u.Token, err))
	}
	if err = m.login(slot, sess, pin); err != nil {
		m.ctx.CloseSession(sess)
		return fail(fmt.Errorf("token %q: %w", u.Token, err))
	}
	return m, slot, sess, func() {
		registry.Lock()
		defer registry.Unlock()
		m.ctx.CloseSession(sess)
		m.logout(slot)
		m.release()
	}, nil
}

// find returns the one object of class with u's label and id.
func find(m *module, sess pkcs11.SessionHandle, class uint, label string, id []byte) ([]pkcs11.ObjectHandle, error) {
	tmpl := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, class)}
	if label != "" {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_LABEL, label))
	}
	if id != nil {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_ID, id))
	}
	if err := m.ctx.FindObjectsInit(sess, tmpl); err != nil {
		return nil, err
	}
	objs, _, err := m.ctx.FindObjects(sess, 2)
	if ferr := m.ctx.FindObjectsFinal(sess); err == nil {
		err = ferr
	}
	return objs, err
}

func attrs(m *module, sess pkcs11.SessionHandle, o pkcs11.ObjectHandle, types ...uint) (map[uint][]byte, error) {
	q := make([]*pkcs11.Attribute, len(types))
	for i, t := range types {
		q[i] = pkcs11.NewAttribute(t, nil)
	}
	got, err := m.ctx.GetAttributeValue(sess, o, q)
	if err != nil {
		return nil, err
	}
	out := map[uint][]byte{}
	for _, a := range got {
		out[a.Type] = a.Value
	}
	return out, nil
}

func isTrue(v []byte) bool { return len(v) == 1 && v[0] != 0 }

func ulong(v []byte) (uint, bool) {
	if len(v) != 8 && len(v) != 4 {
		return 0, false
	}
	var n uint
	for i := len(v) - 1; i >= 0; i-- { // CK_ULONG in host (little-endian) order
		n = n<<8 | uint(v[i])
	}
	return n, true
}

// open finds u's private key, checks that it may sign (sign) or derive
// (!sign) and never leaves the token, and returns it with its algorithm
// and the public point of the public key object beside it.
func open(u URI, sign bool) (*key, Algorithm, []byte, error) {
	m, slot, sess, done, err := session(u, false)
	if err != nil {
		return nil, 0, nil, err
	}
	k, alg, point, err := openIn(m, slot, sess, u, sign)
	if err != nil {
		done()
		return nil, 0, nil, fmt.Errorf("%s: %w", u.keyName(), err)
	}
	k.mod, k.slot, k.sess = m, slot, sess
	return k, alg, point, nil
}

func openIn(m *module, slot uint, sess pkcs11.SessionHandle, u URI, sign bool) (*key, Algorithm, []byte, error) {
	objs, err := find(m, sess, pkcs11.CKO_PRIVATE_KEY, u.Object, u.ID)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("%w: C_FindObjects: %w", ErrKeyNotFound, err)
	}
	switch len(objs) {
	case 0:
		return nil, 0, nil, fmt.Errorf("%w: no private key with this label and id in the token", ErrKeyNotFound)
	case 2:
		return nil, 0, nil, fmt.Errorf("%w: several private keys match (add id= to the URI)", ErrKeyNotFound)
	}
	a, err := attrs(m, sess, objs[0], pkcs11.CKA_KEY_TYPE, pkcs11.CKA_ID, pkcs11.CKA_LABEL)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("%w: C_GetAttributeValue: %w", ErrKeyType, err)
	}
	kt, _ := ulong(a[pkcs11.CKA_KEY_TYPE])
	var alg Algorithm
	switch {
	case kt == pkcs11.CKK_EC && sign:
		alg = ECDSAP256
	case kt == pkcs11.CKK_EC:
		alg = ECDHP256
	case kt == ckkECEdwards && sign:
		alg = Ed25519
	case kt == ckkECMontgomery:
		return nil, 0, nil, fmt.Errorf("%w: an X25519 key (CKK_EC_MONTGOMERY); this package exchanges with P-256 keys only", ErrKeyType)
	default:
		want := "an EC P-256 key with CKA_DERIVE"
		if sign {
			want = "an EC P-256 or Ed25519 key with CKA_SIGN"
		}
		return nil, 0, nil, fmt.Errorf("%w: key type 0x%x, want %s", ErrKeyType, kt, want)
	}
	use := uint(pkcs11.CKA_DERIVE)
	if sign {
		use = pkcs11.CKA_SIGN
	}
	p, err := attrs(m, sess, objs[0], pkcs11.CKA_EC_PARAMS, use, pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE, pkcs11.CKA_ALWAYS_AUTHENTICATE)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("%w: C_GetAttributeValue: %w", ErrKeyType, err)
	}
	params := p[pkcs11.CKA_EC_PARAMS]
	switch {
	case alg == Ed25519 && (string(params) == string(paramsEd25519) || string(params) == string(paramsEd25519Named)):
	case alg != Ed25519 && string(params) == string(paramsP256):
	case string(params) == string(paramsX25519):
		return nil, 0, nil, fmt.Errorf("%w: an X25519 key; this package exchanges with P-256 keys only", ErrKeyType)
	default:
		return nil, 0, nil, fmt.Errorf("%w: %s key on another curve (CKA_EC_PARAMS %x)", ErrKeyType, alg, params)
	}
	if !isTrue(p[use]) {
		what := "CKA_DERIVE (ECDH)"
		if sign {
			what = "CKA_SIGN"
		}
		return nil, 0, nil, fmt.Errorf("%w: the key does not allow %s", ErrKeyType, what)
	}
	if !isTrue(p[pkcs11.CKA_SENSITIVE]) || isTrue(p[pkcs11.CKA_EXTRACTABLE]) {
		return nil, 0, nil, fmt.Errorf("%w: want CKA_SENSITIVE true and CKA_EXTRACTABLE false (generate the key inside the token)", ErrExportable)
	}
	if isTrue(p[pkcs11.CKA_ALWAYS_AUTHENTICATE]) {
		return nil, 0, nil, fmt.Errorf("%w: CKA_ALWAYS_AUTHENTICATE keys (a PIN per operation) are not supported", ErrKeyType)
	}
	if err := m.offers(slot, alg); err != nil {
		return nil, 0, nil, err
	}
	// The public key object: same CKA_ID, else same label.
	var pubs []pkcs11.ObjectHandle
	if id := a[pkcs11.CKA_ID]; len(id) > 0 {
		pubs, err = find(m, sess, pkcs11.CKO_PUBLIC_KEY, "", id)
	} else {
		pubs, err = find(m, sess, pkcs11.CKO_PUBLIC_KEY, string(a[pkcs11.CKA_LABEL]), nil)
	}
	if err != nil || len(pubs) != 1 {
		return nil, 0, nil, fmt.Errorf("%w: no single public key object beside the private key (same CKA_ID, or label)", ErrKeyNotFound)
	}
	pa, err := attrs(m, sess, pubs[0], pkcs11.CKA_EC_POINT)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("%w: public key: C_GetAttributeValue: %w", ErrKeyType, err)
	}
	return &key{obj: objs[0]}, alg, ecPoint(pa[pkcs11.CKA_EC_POINT]), nil
}

// offers checks that the token does alg's mechanism for the key's use.
func (m *module) offers(slot uint, alg Algorithm) error {
	mech, flag, name := uint(pkcs11.CKM_ECDSA), uint(pkcs11.CKF_SIGN), "CKM_ECDSA signing"
	switch alg {
	case Ed25519:
		mech, name = ckmEdDSA, "CKM_EDDSA signing"
	case ECDHP256:
		mech, flag, name = pkcs11.CKM_ECDH1_DERIVE, pkcs11.CKF_DERIVE, "CKM_ECDH1_DERIVE"
	}
	list, err := m.ctx.GetMechanismList(slot)
	if err != nil {
		return fmt.Errorf("%w: C_GetMechanismList: %w", ErrToken, err)
	}
	for _, l := range list {
		if l.Mechanism != mech {
			continue
		}
		if info, err := m.ctx.GetMechanismInfo(slot, []*pkcs11.Mechanism{l}); err == nil && info.Flags&flag != 0 {
			return nil
		}
	}
	return fmt.Errorf("%w: the token does not offer %s", ErrKeyType, name)
}

func (k *key) sign(alg Algorithm, data []byte) ([]byte, error) {
	mech := uint(pkcs11.CKM_ECDSA)
	if alg == Ed25519 {
		mech = ckmEdDSA
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, errors.New("hsm: key closed")
	}
	if err := k.mod.ctx.SignInit(k.sess, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, k.obj); err != nil {
		return nil, fmt.Errorf("hsm: C_SignInit: %w", err)
	}
	sig, err := k.mod.ctx.Sign(k.sess, data)
	if err != nil {
		return nil, fmt.Errorf("hsm: C_Sign: %w", err)
	}
	return sig, nil
}

// derive runs CKM_ECDH1_DERIVE (no KDF) into a session object, reads the
// 32-byte secret and destroys the object.
func (k *key) derive(point []byte) ([]byte, error) {
	mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDH1_DERIVE, pkcs11.NewECDH1DeriveParams(pkcs11.CKD_NULL, nil, point))}
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, errors.New("hsm: key closed")
	}
	o, err := k.mod.ctx.DeriveKey(k.sess, mech, k.obj, tmpl)
	if err != nil {
		return nil, fmt.Errorf("hsm: C_DeriveKey (ECDH): %w", err)
	}
	defer k.mod.ctx.DestroyObject(k.sess, o)
	v, err := attrs(k.mod, k.sess, o, pkcs11.CKA_VALUE)
	if err != nil {
		return nil, fmt.Errorf("hsm: ECDH secret: %w", err)
	}
	if s := v[pkcs11.CKA_VALUE]; len(s) == 32 {
		return s, nil
	}
	return nil, errors.New("hsm: ECDH secret of the wrong length")
}

func (k *key) close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil
	}
	k.closed = true
	registry.Lock()
	defer registry.Unlock()
	err := k.mod.ctx.CloseSession(k.sess)
	k.mod.logout(k.slot)
	k.mod.release()
	return err
}

// GenerateKey makes a key pair of alg inside the token uri names, the
// private half sensitive and not extractable (it never exists outside
// the token), with the URI's label and id (a random 16-byte id when the
// URI has none). A key that already matches the URI is an error, never
// replaced.
func GenerateKey(uri string, alg Algorithm) error {
	u, err := ParseURI(uri)
	if err != nil {
		return err
	}
	return generate(u, alg, false)
}

func generate(u URI, alg Algorithm, extractable bool) error {
	m, _, sess, done, err := session(u, true)
	if err != nil {
		return err
	}
	defer done()
	if objs, err := find(m, sess, pkcs11.CKO_PRIVATE_KEY, u.Object, u.ID); err != nil || len(objs) > 0 {
		return fmt.Errorf("hsm: %s: a private key with this label and id exists already", u.keyName())
	}
	id := u.ID
	if id == nil {
		id = make([]byte, 16)
		rand.Read(id)
	}
	// One use per key, the other explicitly off (tokens default CKA_SIGN
	// and CKA_DERIVE to true).
	gen, params, use, notUse := uint(pkcs11.CKM_EC_KEY_PAIR_GEN), paramsP256, uint(pkcs11.CKA_SIGN), uint(pkcs11.CKA_DERIVE)
	switch alg {
	case Ed25519:
		gen, params = ckmECEdwardsKeyPairGen, paramsEd25519
	case ECDHP256:
		use, notUse = pkcs11.CKA_DERIVE, pkcs11.CKA_SIGN
	case ECDSAP256:
	default:
		return fmt.Errorf("hsm: cannot generate %v", alg)
	}
	common := func(private bool) []*pkcs11.Attribute {
		a := []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		}
		if u.Object != "" {
			a = append(a, pkcs11.NewAttribute(pkcs11.CKA_LABEL, u.Object))
		}
		if private {
			return append(a,
				pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
				pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, !extractable),
				pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, extractable),
				pkcs11.NewAttribute(use, true),
				pkcs11.NewAttribute(notUse, false),
				pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
				pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false))
		}
		a = append(a, pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params))
		if use == pkcs11.CKA_SIGN {
			a = append(a, pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true))
		}
		return a
	}
	if _, _, err := m.ctx.GenerateKeyPair(sess, []*pkcs11.Mechanism{pkcs11.NewMechanism(gen, nil)}, common(false), common(true)); err != nil {
		return fmt.Errorf("hsm: %s: C_GenerateKeyPair (%v): %w", u.keyName(), alg, err)
	}
	return nil
}
