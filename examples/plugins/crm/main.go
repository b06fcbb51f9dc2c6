// Command crm is a weft plugin for a CRM's contacts API (the one the mock
// API of examples/mockapi serves). It provides, once loaded from weft's
// plugins directory as plugins/crm:
//
//   - the step crm.upsert_contact, which creates or updates a contact with
//     PUT {baseUrl}/crm/contacts/{email}, idempotently;
//   - the transform crm.contact_from_lead, which turns a lead record into a
//     contact;
//   - the validator crm.valid_contact, which checks a contact.
//
// Build it with `make examples` (into bin/plugins/crm) or
//
//	go build -o plugins/crm ./examples/plugins/crm
//
// and see examples/plugins/crm-sync.json for a workflow using all three.
package main

import "github.com/weftworks/weft/sdk/plugin"

func main() {
	plugin.Serve(&UpsertContact{}, &ContactFromLead{}, &ValidContact{})
}
