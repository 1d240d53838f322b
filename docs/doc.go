// Package docs holds Madoguchi's documentation: the operator guide
// (operations.md), the API reference, the accuracy and benchmark reports.
// It has no code; its test keeps the Japanese documents in step with the
// English ones.
//
// Convention: a Japanese document is NAME.ja.md beside its English twin
// NAME.md (README.ja.md at the repository root, docs/NAME.ja.md here). A
// pair must
//   - link to each other (by convention on the line after the title);
//   - link to the same targets, a link to a document that has a Japanese
//     twin counting as a link to its English one — and the Japanese side
//     must then link to the Japanese twin;
//   - declare the same explicit section ids (<a id="key-rotation"></a>
//     before a heading), so an anchor is the same in both languages although
//     the headings are not;
//   - show the same shell commands in their code blocks (comments aside,
//     which are translated): every madoguchi or go command of one is in the
//     other, word for word.
//
// And in every document (README.md, docs/*.md, twins or not) every relative
// link resolves to an existing file, and every anchor to a heading (GitHub's
// slug) or explicit id of its target.
package docs
