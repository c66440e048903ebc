package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/openstack"
	"github.com/openstack-capacity-exporter/openstack-capacity-exporter/collector/slots"
)

// The cross-check asks Placement itself, now and then, whether each
// counted flavor has at least one allocation candidate, and compares the
// answer with the count of the same providers by the exporter's rules:
// a disagreement means the exporter's model of Placement is wrong for that
// flavor (or the two were read a poll apart). One request per flavor (two
// for a dedicated flavor's fallback) per capacity.cross_check_interval,
// limit=1. The limit keeps the answer small; Placement 8.0.0 still builds
// every candidate before slicing (research_context.limit_results), so one
// request costs it what one Nova scheduling request does.

var (
	capacityCandidatesDesc = newGaugeFamily("openstack_capacity_flavor_placement_candidates",
		"1 if Placement offered at least one allocation candidate for the flavor at the last cross-check (GET /allocation_candidates, limit 1, as Nova asks), 0 if none; with capacity.cross_check_interval only.", capacityFlavorLabels)
	capacityDisagreesDesc = newGaugeFamily("openstack_capacity_flavor_placement_disagrees",
		"1 if the last cross-check disagreed with the exporter's count on the same providers (Placement offered a candidate where the count found no free slot, or none where it found one), 0 if it agreed.", capacityFlavorLabels)
	capacityCrossCheckAgeDesc = newGaugeFamily("openstack_capacity_cross_check_age_seconds",
		"Age of the last cross-check with Placement.", nil)
)

// placementCandidatesVersion is Nova Zed's: root_required needs 1.35.
const placementCandidatesVersion = "1.36"

// crossCheck is the last cross-check's outcome per flavor.
type crossCheck struct {
	at         time.Time
	candidates map[string]bool // flavor -> at least one candidate
	disagrees  map[string]bool
}

// placementCandidatesQuery renders a shape as Nova's scheduler sends it
// (ResourceRequest.to_querystring), limited to one candidate.
func placementCandidatesQuery(shape slots.Shape) url.Values {
	v := url.Values{}
	v.Set("limit", "1")
	res := make([]string, 0, len(shape.Resources))
	for class, n := range shape.Resources {
		res = append(res, class+":"+strconv.FormatInt(int64(n), 10))
	}
	sort.Strings(res)
	v.Set("resources", strings.Join(res, ","))
	traits := append([]string(nil), shape.Required...)
	for _, t := range shape.Forbidden {
		traits = append(traits, "!"+t)
	}
	if len(traits) > 0 {
		v.Set("required", strings.Join(traits, ","))
	}
	for _, anyOf := range shape.MemberOf {
		v.Add("member_of", "in:"+strings.Join(anyOf, ","))
	}
	if len(shape.RootForbidden) > 0 {
		roots := make([]string, len(shape.RootForbidden))
		for i, t := range shape.RootForbidden {
			roots[i] = "!" + t
		}
		v.Set("root_required", strings.Join(roots, ","))
	}
	return v
}

// runCrossCheck asks Placement for each shape and compares with the count
// of view's providers (all of them: Placement does not know which
// nova-compute services are down).
func (c *capacityCollector) runCrossCheck(ctx context.Context, view *PlacementView, shapes []countedShape) (*crossCheck, error) {
	sc, err := c.session.ServiceClient(ctx, "placement")
	if err != nil {
		return nil, err
	}
	out := &crossCheck{at: c.now(), candidates: map[string]bool{}, disagrees: map[string]bool{}}
	headers := map[string]string{"OpenStack-API-Version": "placement " + placementCandidatesVersion}
	for _, cs := range shapes {
		var offered bool
		for _, shape := range cs.shapes {
			has, err := anyCandidate(ctx, sc, headers, shape)
			if err != nil {
				return nil, fmt.Errorf("cross-check of %s: %s", cs.name, openstack.Describe(err))
			}
			offered = offered || has
		}
		counted := sumTrees(countShape(view.Providers, cs, nil), func(t slots.Tree) int64 { return t.Free }) > 0
		out.candidates[cs.name] = offered
		out.disagrees[cs.name] = offered != counted
	}
	return out, nil
}

func anyCandidate(ctx context.Context, sc *gophercloud.ServiceClient, headers map[string]string, shape slots.Shape) (bool, error) {
	var body struct {
		Requests *[]json.RawMessage `json:"allocation_requests"`
	}
	u := sc.ServiceURL("allocation_candidates") + "?" + placementCandidatesQuery(shape).Encode()
	if err := openstack.Get(ctx, sc, placementOp("allocation_candidates"), u, headers, &body); err != nil {
		return false, err
	}
	if body.Requests == nil {
		return false, fmt.Errorf("GET %s: the response has no allocation_requests list", u)
	}
	return len(*body.Requests) > 0, nil
}
