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
//   - Sign-in answers alike for real and unknown accounts: an unknown
//     username, a wrong password, a wrong or replayed code and a disabled
//     account are all ErrInvalidCredentials, after the same work (one
//     argon2id verification — against a dummy hash of the same cost for an
//     unknown username —, one transaction that counts the failure and
//     appends its audit entry, the same detection queries). The TOTP secret
//     is opened only after the right password.
//   - Backoff, not lockout: failures are counted per (username, source
//     address) — an IPv4 address or an IPv6 /64, see SourceKey — for real
//     and unknown usernames alike. After MaxFailures (5) consecutive
//     failures from one source, attempts for that username from that source
//     are refused unevaluated (*BackoffError, ErrBackoff, with the time to
//     wait) for BackoffBase (30 s), doubling per further failure up to
//     BackoffMax (15 min); a success from that source clears its count, a
//     day without failures forgets it. Other sources are not affected: an
//     attacker cannot lock a reviewer out of their own address (a shared
//     address, such as one NAT or a reverse proxy that hides client
//     addresses, shares one count).
//   - Detection: a source entering backoff (AlertBackoff), one username
//     failing from AlertSources (5) sources within an hour
//     (AlertDistributed), and one source failing on AlertUsernames (10)
//     usernames (AlertSpray) each raise an alert, at most once an hour per
//     subject, in the failure's transaction and audited. Admins list and
//     acknowledge alerts (Alerts, AcknowledgeAlert: audited); Counters
//     feeds metrics and Config.OnAlert hooks. Usernames are never stored
//     for failures: rows hold SHA-256 hashes of (username, source).
//   - Bounded cost: at most HashSlots (GOMAXPROCS) argon2id verifications
//     run at once, each holding Argon2.MemoryKiB (64 MiB); at most HashQueue
//     (4 x slots) more wait, each up to HashWait (2 s); anything beyond is
//     ErrBusy at once. Peak sign-in memory is therefore about HashSlots x
//     64 MiB whatever the number of concurrent attempts.
//   - A login opens a session: a 256-bit opaque token of which only the
//     SHA-256 is stored, with an absolute expiry and an idle timeout.
//   - A person changes their own password with the current one
//     (ChangePassword, through the same hash slots): every other session of
//     the account ends, the one it came from stays; a wrong current password
//     ends that session too, so guessing needs a sign-in per attempt.
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
// Accounts: DisableAccount (an admin, never on their own account) disables
// an account and ends its sessions in one audited transaction;
// EnableAccount re-enables it.
//
// Invariants: every change appends an audit entry in the same transaction;
// no password, TOTP secret, code or session token is logged, stored in
// plaintext or put in an error.
package staff
