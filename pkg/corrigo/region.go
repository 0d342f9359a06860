package corrigo

import (
	"fmt"
	"strings"
)

// Region is a CorrigoPro data-center region. Each region has its own REST
// host; calling the wrong one is a classic cause of HTTP 500 (the guide's
// common-errors appendix).
type Region string

// The three CorrigoPro regions (API.md §0).
const (
	RegionAPAC Region = "apac" // Asia/Pacific
	RegionAM   Region = "am"   // Americas
	RegionEMEA Region = "emea" // Europe, the Middle East and Africa
)

// DefaultOAuthURL is CorrigoPro's token endpoint. It is the same for every
// region; the CorrigoPro Desktop settings page shows the authoritative value.
const DefaultOAuthURL = "https://oauth-pro-v2.corrigo.com/OAuth/Token"

// Regions lists the known regions.
var Regions = []Region{RegionAPAC, RegionAM, RegionEMEA}

// ParseRegion accepts a region name in any case ("AM", " emea ").
func ParseRegion(s string) (Region, error) {
	r := Region(strings.ToLower(strings.TrimSpace(s)))
	for _, k := range Regions {
		if r == k {
			return r, nil
		}
	}
	return "", fmt.Errorf("corrigo: unknown region %q (want apac, am or emea)", s)
}

// RegionBaseURL returns the REST root of a region, the ".../Direct/" URL that
// endpoint paths such as "api/customers" are appended to.
func RegionBaseURL(r Region) (string, error) {
	p, err := ParseRegion(string(r))
	if err != nil {
		return "", err
	}
	return "https://" + string(p) + "-api.corrigopro.com/Direct/", nil
}
