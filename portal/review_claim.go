package portal

// reviewClaim takes the session for the person (ClaimTTL, and only while
// they stay signed in), then shows its evidence.
func reviewClaim(rq *Request) error {
	rv, id, err := loadReview(rq)
	if err != nil {
		return err
	}
	if _, err := rv.Claim(rq.Ctx(), rq.reviewer(), id); err != nil {
		return reviewErr(rq, id, err)
	}
	return rq.Redirect(Prefix + "/review/" + id)
}

// reviewRelease gives the session back to the queue.
func reviewRelease(rq *Request) error {
	rv, id, err := loadReview(rq)
	if err != nil {
		return err
	}
	if err := rv.Release(rq.Ctx(), rq.reviewer(), id); err != nil {
		return reviewErr(rq, id, err)
	}
	rq.Flash("review.flash_released")
	return rq.Redirect(Prefix + "/review")
}
