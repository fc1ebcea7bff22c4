package config

import (
	"fmt"
	"slices"
	"strings"
)

// ServedRegions are the regions the deployment serves, the default first:
// `regions`, or the one-region spelling `region`.
func (c *Config) ServedRegions() []string {
	if len(c.Regions) == 0 {
		return []string{c.Region}
	}
	return c.Regions
}

// resolveRegions reconciles `regions` with `region`, its deprecated
// one-region spelling, after the environment was applied: the environment
// beats the file, and two spellings at the same level must agree. Region
// ends as the default region, which most of the daemon reads.
func (c *Config) resolveRegions() {
	_, envRegion := c.fromEnv["region"]
	_, envRegions := c.fromEnv["regions"]
	_, fileRegions := c.lines["regions"]
	_, fileRegion := c.lines["region"]
	switch {
	case len(c.Regions) == 0 && (envRegions || fileRegions):
		c.problems = append(c.problems, c.fieldError("regions", "must list at least one region"))
	case len(c.Regions) == 0, envRegion && !envRegions:
		// Only the one-region spelling, or FORGELINK_REGION over the file's list.
		c.Regions = []string{c.Region}
	case c.Region != c.Regions[0] && (envRegion || (fileRegion && !envRegions)):
		c.problems = append(c.problems, c.fieldError("region", fmt.Sprintf(
			"region %q disagrees with regions, which begin with %q: region is the deprecated one-region spelling of regions; set only regions",
			c.Region, c.Regions[0])))
	default:
		c.Region = c.Regions[0]
	}
}

// validateRegions checks each served region's form and that none repeats.
func (c *Config) validateRegions() []FieldError {
	if len(c.Regions) <= 1 && !c.regionsGiven() {
		if !regionPattern.MatchString(c.Region) {
			return []FieldError{c.fieldError("region", fmt.Sprintf("want an AWS-style region such as us-east-1, got %q", c.Region))}
		}
		return nil
	}
	var errs []FieldError
	for i, r := range c.Regions {
		switch {
		case !regionPattern.MatchString(r):
			errs = append(errs, c.regionError(i, fmt.Sprintf("want an AWS-style region such as eu-south-1, got %q", r)))
		case slices.Index(c.Regions, r) < i:
			errs = append(errs, c.regionError(i, fmt.Sprintf("region %q is listed twice", r)))
		}
	}
	return errs
}

func (c *Config) regionsGiven() bool {
	_, env := c.fromEnv["regions"]
	_, file := c.lines["regions"]
	return env || file
}

// regionError places a problem with the i-th region: under
// FORGELINK_REGIONS (naming the entry) or at the entry's line.
func (c *Config) regionError(i int, msg string) FieldError {
	if _, ok := c.fromEnv["regions"]; ok {
		return c.fieldError("regions", fmt.Sprintf("entry %d: %s", i+1, msg))
	}
	return c.fieldError(fmt.Sprintf("regions[%d]", i), msg)
}

// validateAppRegions checks the regions: lists of the provider apps: each
// a served region, none twice.
func (c *Config) validateAppRegions() []FieldError {
	lists := map[string][]string{}
	for i, a := range c.GitHubApps {
		lists[fmt.Sprintf("githubApps[%d]", i)] = a.Regions
	}
	if a := c.Providers.GitLabApp; a != nil {
		lists["providers.gitlabApp"] = a.Regions
	}
	if b := c.Providers.BitbucketConsumer; b != nil {
		lists["providers.bitbucketConsumer"] = b.Regions
	}
	var errs []FieldError
	for field, regions := range lists {
		for i, r := range regions {
			at := fmt.Sprintf("%s.regions[%d]", field, i)
			switch {
			case !slices.Contains(c.ServedRegions(), r):
				errs = append(errs, c.fieldError(at, fmt.Sprintf("region %q is not one this deployment serves (regions: %s)",
					r, strings.Join(c.ServedRegions(), ", "))))
			case slices.Index(regions, r) < i:
				errs = append(errs, c.fieldError(at, fmt.Sprintf("region %q is listed twice", r)))
			}
		}
	}
	slices.SortFunc(errs, func(a, b FieldError) int { return a.Line - b.Line })
	return errs
}

// splitRegions parses FORGELINK_REGIONS: comma-separated, spaces ignored.
func splitRegions(v string) []string {
	parts := strings.Split(v, ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}
