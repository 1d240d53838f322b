// Package fraud runs Madoguchi's fraud checks across sessions: the same
// face under another name (1:N duplicate search), the same document under
// another name or face (document reuse), too many sessions per device,
// network or document (velocity), and watchlist screening (反社会的勢力,
// sanctions lists imported by the tenant). Package ekyc consults it at
// decision time through its own small interface (ekyc.FraudChecks);
// cmd/madoguchi wires *Service behind it. docs/fraud.md is the operator's
// manual: what each check does, thresholds and measured error rates, and
// the tasks (keys, policies, list imports, a face-model change).
//
// Invariants:
//   - The gallery holds the face templates of approved subjects only
//     (staged at decision time, made active by Approved in the approving
//     transaction), sealed under the subject's data key (vault) with the
//     session and model as AAD; templates are never stored in clear.
//   - Templates of different models are never compared: the index is
//     sharded by (tenant, model) and a probe searches its model's shards
//     only. A tenant whose policy enables the search but states no 1:N
//     threshold for the probe's model gets ReasonDuplicateUnchecked, never
//     a silent pass.
//   - The in-memory index is a cache of the store: Load rebuilds it at
//     start (Check refuses with ErrNotReady until then), Sync applies the
//     change log other instances wrote, and every candidate is confirmed
//     against the store and opened under its subject's key before it is
//     reported — so a subject shredded anywhere (Forget, in the shredding
//     transaction) is never reported again by any instance.
//   - A tenant searches its own gallery; other tenants' galleries only when
//     both its policy and theirs opt in (cross_tenant), and their sessions
//     are never named. Findings name sessions of the same tenant only.
//   - Documents, identities, devices and networks are kept as HMAC-SHA256
//     digests under the server's Key (document digests also keyed by the
//     tenant), never in clear and never as plain hashes. A network address
//     is reduced to its /24 or /48 first.
//   - A watchlist import is parsed whole before anything is stored (a
//     malformed file is refused with the record and field, never the
//     value), stored sealed as a pending version, and screened against only
//     after a second person activates it (staff approval kind
//     fraud.watchlist); staging and activation are audited.
//   - Everything kept for a subject (gallery entries, document digests,
//     velocity events) is deleted by Forget in the transaction that shreds
//     the subject.
//   - Nothing here logs or returns personal data: details name counts,
//     sessions, list and entry ids, scores and thresholds.
package fraud
