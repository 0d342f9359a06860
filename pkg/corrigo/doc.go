// Package corrigo is a typed client for the CorrigoPro Direct API, the REST
// API through which service providers receive and work facility-management
// work orders, plus its data models and webhook notification types.
//
// The client handles what every integration gets wrong once: OAuth2 client
// credentials with a cached token that is refreshed before it expires (one
// refresh at a time, however many goroutines call), a single retry after a
// 401 with a fresh token, a unique MessageId on every call (query parameter
// on GETs, body property on PUT/POST, with an optional prefix), the
// Content-Type CorrigoPro insists on, batching of GET-by-ids in groups of 50,
// bounded response reads, an HTTP transport sized for concurrency, and one
// error type whose Class says what to do next.
//
// Usage:
//
//	c, err := corrigo.NewClient(corrigo.Config{
//		Region:          corrigo.RegionAM, // or BaseURL: "http://127.0.0.1:8080/Direct/"
//		ClientID:        os.Getenv("CORRIGO_CLIENT_ID"),
//		ClientSecret:    os.Getenv("CORRIGO_CLIENT_SECRET"),
//		MessageIDPrefix: "acme-",
//	})
//	if err != nil { ... }
//	found, err := c.SearchWorkOrders(ctx, corrigo.SearchParameters{
//		Statuses: []corrigo.Status{corrigo.StatusNew},
//	})
//	for _, wo := range found {
//		err := c.Accept(ctx, corrigo.AcceptRequest{WorkOrderId: wo.WorkOrderId})
//		switch corrigo.ClassOf(err) {
//		case "": // accepted
//		case corrigo.ClassTransient: // retry later with backoff
//		case corrigo.ClassNeedsPerson: // show the error to a person
//		default: // permanent: give up, log the error (it carries the MessageId)
//		}
//	}
//
// The client never retries on its own apart from the 401 case: the caller
// knows whether an action is safe to repeat.
package corrigo
