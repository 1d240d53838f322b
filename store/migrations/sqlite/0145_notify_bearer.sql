-- notify: an event may carry the receiver's own bearer credential (a CIBA
-- ping's client_notification_token, OpenID CIBA Core §10.2), sealed by the
-- vault under the event's subject with the AAD ("notify.bearer", event_id);
-- empty when the event has none. CIBA pings now go through notify_outbox.
ALTER TABLE notify_outbox ADD COLUMN auth BLOB NOT NULL DEFAULT x'';

-- oauth_ping_outbox was a second outbox for CIBA pings; it is dropped, not
-- moved. Its payload (endpoint, notification token, auth_req_id) is sealed
-- under the oauth client's data key with an AAD only the old Go code knew,
-- so SQL cannot carry it over; and no release ever shipped 0050 with it
-- (the oauth package has not been released), so only development
-- databases can hold rows. A ping that was still pending refers to an
-- auth_req_id that lives at most 5 minutes (oauth.CIBATTL); the client
-- that misses it gets expired_token and starts a new request.
DROP TABLE oauth_ping_outbox;
