package portal

import (
	"net/http"
	"time"
)

type deviceRow struct {
	ID, Name, State, Fingerprint, RequestedBy, ApprovedBy, RemovalBy string
	Created, Synced                                                  time.Time
	LogSize                                                          uint64
	// Approvable: pending and filed by someone else (the four eyes).
	Approvable, Removable, RemovalApprovable bool
}

// credentialDevices lists the tenant's branch devices with the actions the
// person may take: approve what another admin filed, file a removal,
// approve a removal another admin filed.
func credentialDevices(rq *Request) error {
	c := rq.s.cfg.Credentials
	data := map[string]any{"Enabled": c != nil, "Rows": []deviceRow{}}
	if c == nil {
		return rq.Render(http.StatusOK, "credential_devices", "credential.devices_title", data)
	}
	st := credentialStaff(rq)
	ds, err := c.Devices(rq.Ctx(), st, st.TenantID)
	if err != nil {
		return credentialErr(err)
	}
	rows := make([]deviceRow, 0, len(ds))
	for _, d := range ds {
		rows = append(rows, deviceRow{ID: d.ID, Name: d.Name, State: d.State, Fingerprint: d.Fingerprint(), RequestedBy: d.RequestedBy,
			ApprovedBy: d.ApprovedBy, RemovalBy: d.RemovalBy, Created: d.CreatedAt, Synced: d.SyncedAt, LogSize: d.LogSize,
			Approvable:        d.State == "pending" && d.RequestedBy != st.ID,
			Removable:         d.State == "active",
			RemovalApprovable: d.State == "removal_pending" && d.RemovalBy != st.ID})
	}
	data["Rows"] = rows
	return rq.Render(http.StatusOK, "credential_devices", "credential.devices_title", data)
}

// credentialDeviceAction files an enrolment (name and the code `madoguchi
// branch init` printed), approves one, files a removal or approves one. A
// device can read every template shown to it: the person must have signed
// in recently, and the service refuses the same person's approval.
func credentialDeviceAction(rq *Request) error {
	c := rq.s.cfg.Credentials
	if c == nil {
		return ErrNotFound
	}
	if err := rq.R.ParseForm(); err != nil {
		return errTooLargeOr(err)
	}
	if err := rq.RequireRecentAuth(Prefix + "/credentials/devices"); err != nil {
		return err
	}
	st := credentialStaff(rq)
	id := rq.R.PostFormValue("id")
	var err error
	switch rq.R.PostFormValue("action") {
	case "request":
		_, err = c.RequestDevice(rq.Ctx(), st, st.TenantID, rq.R.PostFormValue("name"), rq.R.PostFormValue("code"))
	case "approve":
		_, err = c.ApproveDevice(rq.Ctx(), st, id)
	case "remove":
		_, err = c.RequestRemoval(rq.Ctx(), st, id)
	case "approve-removal":
		_, err = c.ApproveRemoval(rq.Ctx(), st, id)
	default:
		return errBadInput
	}
	if err != nil {
		return credentialErr(err)
	}
	rq.Flash("flash.credential_device_done")
	return rq.Redirect(Prefix + "/credentials/devices")
}
