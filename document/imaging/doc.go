// Package imaging checks the document photographs of method ホ (犯収法
// 施行規則 6-1-1-ホ): the front of a photo ID, its back, and a tilted frame in
// which the card's thickness shows. It measures what a camera picture can
// show about capture quality and consistency, and says plainly what it
// cannot: genuineness is for a human reviewer (目視審査).
//
// Method ホ is abolished in principle from 2027-04-01 (IC-chip methods ヘ
// and JPKI remain); this package serves the transition and the low-risk
// exceptions that keep it.
//
// # What is checked automatically
//
// Per frame (CheckFrame), each a number with a limit in Config:
//   - the card outline: Sobel edges, a Hough transform voting along each
//     edge pixel's gradient direction, least-squares line refinement, and
//     the quadrilateral whose perimeter is best backed by edges
//     (document_found); its corners inside the picture (document_in_frame),
//     its area share (document_fill), its proportions against ID-1
//     85.60 x 53.98 mm (aspect_ratio, front and back), perspective
//     (perspective_skew: keystone and corner angles; front and back must be
//     straight on, the tilt frame must not be: tilted), and pixels across
//     the card (resolution);
//   - on the card rectified by the outline's homography: blur (the Crete
//     re-blur metric), exposure (mean luma and clipped shares), contrast
//     (luma standard deviation) and glare (largest saturated blob);
//   - on the front, the portrait: the faces a FaceFinder reports, one of
//     them inside the outline, of a plausible size for an ID photo and
//     large enough to compare (portrait).
//
// Across frames (CheckSet):
//   - not_duplicate: no frame is another re-sent, exactly (identical
//     pixels after reduction) or nearly (whole-frame thumbnail correlation);
//   - same_document: the tilted frame's card, rectified, correlates with
//     the front's (or the back's) — a homography-tolerant comparison of
//     layout and large-scale content, not of identity;
//   - front_back_differ: the back does not show the front side again;
//   - tilt_differs_from_front: the outlines differ in shape (Procrustes
//     distance), so the tilt frame is a new capture in a new pose;
//   - thickness_band: a parallel edge band along the side nearest the
//     camera, where a tilted card shows its edge. This is supporting
//     evidence only: a printed border, a shadow or a printout glued to card
//     stock look the same, so the check passes or refers, and a reviewer
//     still judges thickness.
//
// # What goes to human review
//
// HumanReview lists it, and every SetReport carries the list: security
// features (hologram, microtext, latent image, colour-shifting ink),
// tampering of printed data (overprinting, a replaced portrait, altered
// digits), whether the printed name, address and date of birth match the
// applicant, whether the document is an accepted, unexpired original rather
// than a copy, printout or screen, whether the back belongs to the same
// card, and whether the portrait is the applicant (the eKYC decision
// compares it with the selfie). A SetReport with Status Pass means the
// pictures are fit for that review, never that the document is genuine.
//
// # Invariants
//
//   - Input is a decoded image.Image (intake, EXIF orientation and byte
//     limits are face/imageio's job); frames above Config.MaxSide or
//     Config.MaxPixels are refused with ErrTooLarge before any pixel is
//     read, and every buffer is bounded by those limits.
//   - Quality problems are checks with Status fail or refer and a reason a
//     customer or reviewer can read; errors mean a frame could not be
//     examined (ErrImage, ErrTooLarge, ErrConfig, ErrFaceFinder, context).
//   - Reports hold measurements, outlines and face boxes, never pixels,
//     text read from the card, or biometric data; Set redacts its images in
//     log/slog. Reasons never contain personal data.
//   - A Checker cannot be built without a FaceFinder: a missing face engine
//     is a start-up error, not a skipped check.
//   - Results are deterministic for given pixels and Config.
package imaging
