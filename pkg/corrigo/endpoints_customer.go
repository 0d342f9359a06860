package corrigo

import (
	"context"
	"net/url"
	"strconv"
)

// Customers lists the customers the provider works for, with their branch
// ids; GET api/customers. It is the simplest call to check credentials,
// region and MessageId handling.
func (c *Client) Customers(ctx context.Context) ([]Customer, error) {
	var resp CustomersResponse
	if err := c.getJSON(ctx, "api/customers", nil, 0, &resp); err != nil {
		return nil, err
	}
	return resp.Customers, nil
}

// CustomerSettings returns a customer's completion requirements; GET
// api/customerSettings?customerId=.
func (c *Client) CustomerSettings(ctx context.Context, customerID int) (*CustomerSettings, error) {
	var resp CustomerSettingsResponse
	q := url.Values{"customerId": {strconv.Itoa(customerID)}}
	if err := c.getWrapped(ctx, "api/customerSettings", q, 0, "Settings", &resp); err != nil {
		return nil, err
	}
	if resp.Settings.CustomerId == 0 {
		resp.Settings.CustomerId = customerID
	}
	return &resp.Settings, nil
}
