package ekyc

import (
	"errors"

	"github.com/madoguchi/madoguchi/store"
)

// Errors with a documented contract; the HTTP layer maps them to statuses
// with errors.Is. Messages never carry personal data.
var (
	// ErrInvalidInput: a request field is missing, malformed or too large (400/422).
	ErrInvalidInput = errors.New("ekyc: invalid input")
	// ErrNoPolicy: the tenant has no eKYC policy; nothing is decided without one.
	ErrNoPolicy = errors.New("ekyc: tenant has no eKYC policy")
	// ErrMethodNotOffered: the method is not offered by the tenant or not in force.
	ErrMethodNotOffered = errors.New("ekyc: method not offered")
	// ErrNotFound: no such session in the caller's tenant (also for another
	// tenant's session, which must be indistinguishable).
	ErrNotFound = errors.New("ekyc: not found")
	// ErrState: the session is not in a state that allows the operation.
	ErrState = errors.New("ekyc: wrong session state")
	// ErrExpired: the session or its capture token has expired.
	ErrExpired = errors.New("ekyc: expired")
	// ErrToken: the capture token or capture key is unknown, used or wrong.
	ErrToken = errors.New("ekyc: invalid capture credential")
	// ErrReplay: a frame reuses a nonce or repeats an image already submitted.
	ErrReplay = errors.New("ekyc: replayed frame")
	// ErrBinding: a frame's MAC does not bind it to this session and nonce.
	ErrBinding = errors.New("ekyc: frame not bound to this session")
	// ErrUploadedFile: the frame was not captured live by the page's camera.
	ErrUploadedFile = errors.New("ekyc: uploaded files are not accepted; capture with the camera")
	// ErrAlreadyReceived: the session already holds this evidence (a chip
	// read, a JPKI signature); each is accepted once.
	ErrAlreadyReceived = errors.New("ekyc: already received")
	// ErrTooLarge: an input (image, chip file, frame count, transaction
	// record...) exceeds its limit; the message names which.
	ErrTooLarge = errors.New("ekyc: too large")
	// ErrMyNumber: chip files that hold the My Number were sent; they are never accepted.
	ErrMyNumber = errors.New("ekyc: files holding the My Number must not be sent")
	// ErrClaimed: another reviewer holds the claim on this session.
	ErrClaimed = errors.New("ekyc: claimed by another reviewer")
	// ErrForbidden: the actor lacks the role for the operation.
	ErrForbidden = errors.New("ekyc: forbidden")
	// ErrBusy: the face engine is saturated; retry later (503).
	ErrBusy = errors.New("ekyc: busy")
	// ErrSignature: a signed result does not verify.
	ErrSignature = errors.New("ekyc: invalid result signature")
)

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// ErrIncomplete: a submission lacks required frames or chip data.
var ErrIncomplete = errors.New("ekyc: capture incomplete")
