// Package staff holds the accounts of the people who operate Madoguchi
// (roles admin, reviewer, auditor), their authentication, portal sessions,
// and dual control (four eyes) for sensitive changes.
//
// Authentication is a password and a TOTP code:
//   - Passwords are hashed with argon2id (RFC 9106 second recommended
//     parameters by default: t=3, m=64 MiB, p=4, 16-byte salt, 32-byte tag)
//     and stored as PHC strings; comparison is constant time. Stored
//     parameters are bounded when parsed, so a hash cannot make verification
//     arbitrarily costly.
//   - TOTP is RFC 6238 with HMAC-SHA-1, 6 digits and 30-second steps (what
//     authenticator apps support), ±1 step; the last accepted step is stored
//     and a code for it or an earlier step is refused (no replay). The
//     160-bit secret is sealed by the vault under subject
//     (SubjectTenant, staff id) and never logged; it leaves the package once,
//     as the provisioning URI returned at enrolment.
//   - MaxFailures consecutive failures (wrong password, wrong or replayed
//     code) lock the account for LockoutDuration; it unlocks by itself after
//     that. An unknown username gets the same answer, after the same argon2id
//     work. Failures, lockouts, unlocks and logins are audited.
//   - A login opens a session: a 256-bit opaque token of which only the
//     SHA-256 is stored, with an absolute expiry and an idle timeout.
//
// Dual control: Request files an approval (kind, payload) by an admin;
// Approve by a different admin runs the kind's Executor inside the same
// transaction as the approval's status change and audit entry (Run), or,
// for actions outside the database such as a KEK rotation, right after the
// approval commits (AfterCommit, marked failed and audited if it fails).
// Requests expire (ApprovalTTL) and can be rejected. role.grant is built
// in; client.create and kek.rotate are registered by the server.
//
// Bootstrap: dual control needs two admins before anything can be approved,
// so the first two admins are created without approval (Bootstrap): the
// first by the local operator, the second by the first admin, authenticated.
// A two-row table enforces the limit. Every later role comes only through an
// approved role.grant, and CreateAccount creates accounts without roles.
//
// Invariants: every change appends an audit entry in the same transaction;
// no password, TOTP secret, code or session token is logged, stored in
// plaintext or put in an error.
package staff
