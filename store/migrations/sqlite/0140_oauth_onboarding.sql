-- Partner onboarding (package oauth, onboarding.go): an evidence file's
-- type (application/pdf, image/png or image/jpeg, from its magic bytes)
-- and the digest of the assessment a reviewer signed off, which an
-- oauth.client.activate approval names so that a change after the request
-- makes the approval fail instead of activating what nobody signed off.
ALTER TABLE oauth_assessment_items ADD COLUMN evidence_type TEXT;
ALTER TABLE oauth_assessments ADD COLUMN digest TEXT;
