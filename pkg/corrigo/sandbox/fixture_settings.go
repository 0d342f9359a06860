package sandbox

import (
	"fmt"
	"slices"

	"github.com/wogate/wogate/pkg/corrigo"
)

// UpdateCustomerSettings changes a seeded customer's completion settings
// the way the customer would in CorrigoPro: later customerSettings calls
// and completion checks see the new settings. It sends no notification
// (AdditionalFieldDescriptorUpdated is the gateway's hint). Tests of
// caches that must notice a change use it.
func (s *Sandbox) UpdateCustomerSettings(customerID int, edit func(*corrigo.CustomerSettings)) error {
	c := s.customer(customerID)
	if c == nil {
		return fmt.Errorf("sandbox: no customer %d", customerID)
	}
	// settings() hands out slices that are never modified in place: edit
	// a deep copy and replace the whole value.
	st := c.settings()
	st.RepairCodes = slices.Clone(st.RepairCodes)
	st.CustomFields = slices.Clone(st.CustomFields)
	for i := range st.CustomFields {
		st.CustomFields[i].Values = slices.Clone(st.CustomFields[i].Values)
	}
	edit(&st)
	st.CustomerId = customerID
	c.setSettings(st)
	return nil
}
