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
	s.mu.Lock()
	old := s.custByID[customerID]
	if old == nil {
		s.mu.Unlock()
		return fmt.Errorf("sandbox: no customer %d", customerID)
	}
	// A fresh definition: handlers that read the old one without the lock
	// keep a consistent copy.
	def := *old
	def.Settings.RepairCodes = slices.Clone(old.Settings.RepairCodes)
	def.Settings.CustomFields = slices.Clone(old.Settings.CustomFields)
	for i := range def.Settings.CustomFields {
		def.Settings.CustomFields[i].Values = slices.Clone(def.Settings.CustomFields[i].Values)
	}
	edit(&def.Settings)
	def.Settings.CustomerId = customerID
	s.custByID[customerID] = &def
	for i, c := range s.customers {
		if c == old {
			s.customers[i] = &def
		}
	}
	recs := make([]*record, 0, len(s.wos))
	for _, r := range s.wos {
		recs = append(recs, r)
	}
	s.mu.Unlock()
	// Work orders read their customer under their own lock (never while
	// s.mu is held here, so no lock order is imposed).
	for _, r := range recs {
		r.mu.Lock()
		if r.customer == old {
			r.customer = &def
		}
		r.mu.Unlock()
	}
	return nil
}
