package config

import (
	"bytes"
	"fmt"
	"os"
	"regexp"

	"github.com/forgelink/forgelink/relay/policy"
)

// AccessKey is an access key pair besides the root credentials, limited by
// an IAM-style policy (relay/policy):
//
//	accessKeys:
//	  - id: AKIAFORGELINKCI0001
//	    secretFile: ci.secret        # the secret access key; never in this file
//	    description: build hosts clone acme/app, read-only
//	    policy:
//	      statements:
//	        - effect: Allow
//	          actions: [codeconnections:UseConnection, codeconnections:GetConnectionToken]
//	          resources: [arn:aws:codeconnections:us-east-1:123456789012:connection/*]
//	          conditions:          # IAM's Condition: operator -> key -> value or list
//	            StringEquals:
//	              codeconnections:FullRepositoryId: acme/app
//	              codeconnections:ProviderPermissionsRequired: read_only
//	        - effect: Allow      # forgelink's own operations: the forgelink: namespace
//	          actions: [forgelink:ListEvents, forgelink:GetEvent]
//	          resources: ["*"]
//
// Keys sign requests like the root credentials (SigV4). They are read once,
// at start: changing them takes a restart.
type AccessKey struct {
	ID          string        `yaml:"id"`
	SecretFile  string        `yaml:"secretFile"`
	Description string        `yaml:"description"`
	Policy      policy.Policy `yaml:"policy"`

	// secret is SecretFile's content, read by Validate, so that a missing
	// or empty file fails the start rather than the first request.
	secret string
}

// accessKeyIDPattern is IAM's access key id constraint; SigV4 credential
// scopes could not carry a '/' or a space anyway.
var accessKeyIDPattern = regexp.MustCompile(`^\w{16,128}$`)

// minSecretLength keeps out guessable secrets; AWS issues 40 characters.
const minSecretLength = 16

func (c *Config) resolveAccessKeyPaths(resolve func(*string)) {
	for i := range c.AccessKeys {
		resolve(&c.AccessKeys[i].SecretFile)
	}
}

func (c *Config) validateAccessKeys(bad func(field, format string, args ...any), runtime bool) {
	if runtime && c.Authless() && len(c.AccessKeys) > 0 {
		bad("accessKeys", "access keys need root credentials: without FORGELINK_ROOT_ACCESS_KEY_ID and FORGELINK_ROOT_SECRET_ACCESS_KEY no request is authenticated")
	}
	seen := map[string]bool{}
	for i := range c.AccessKeys {
		k := &c.AccessKeys[i]
		field := fmt.Sprintf("accessKeys[%d]", i)
		switch {
		case !accessKeyIDPattern.MatchString(k.ID):
			bad(field+".id", "want 16-128 letters, digits or underscores, like an AWS access key id, got %q", k.ID)
		case k.ID == c.RootAccessKeyID:
			bad(field+".id", "%q is the root access key id", k.ID)
		case seen[k.ID]:
			bad(field+".id", "access key %q is listed twice", k.ID)
		}
		seen[k.ID] = true
		if len(k.Description) > 256 {
			bad(field+".description", "at most 256 characters, got %d", len(k.Description))
		}
		if err := k.readSecret(); err != nil {
			bad(field+".secretFile", "%v", err)
		}
		if probs, ok := k.Policy.Validate().(policy.Problems); ok {
			for _, p := range probs {
				bad(field+".policy."+p.Path, "%s", p.Msg)
			}
		}
	}
}

// readSecret reads the secret access key, trimmed of surrounding
// whitespace. Errors never quote it.
func (k *AccessKey) readSecret() error {
	if k.SecretFile == "" {
		return fmt.Errorf("must name the file holding the secret access key")
	}
	data, err := os.ReadFile(k.SecretFile)
	if err != nil {
		return err
	}
	secret := bytes.TrimSpace(data)
	if len(secret) < minSecretLength {
		return fmt.Errorf("%s holds %d characters; a secret access key needs at least %d", k.SecretFile, len(secret), minSecretLength)
	}
	k.secret = string(secret)
	return nil
}

// AccessKeyWarnings lists what the access keys' policies allow that is
// valid but probably not meant (policy.Policy.Warnings), with file and
// line, for the daemon and `config validate` to print; nil when none.
func (c *Config) AccessKeyWarnings() []FieldError {
	var warns []FieldError
	for i, k := range c.AccessKeys {
		for _, w := range k.Policy.Warnings() {
			field := fmt.Sprintf("accessKeys[%d].policy.%s", i, w.Path)
			warns = append(warns, FieldError{File: c.File, Line: c.lines[field], Field: field, Msg: w.Msg})
		}
	}
	return warns
}

// SecretAccessKey returns the secret of the root access key or of a
// configured access key, as read by Validate; ok is false for any other id.
func (c *Config) SecretAccessKey(accessKeyID string) (secret string, ok bool) {
	if c.RootAccessKeyID != "" && accessKeyID == c.RootAccessKeyID {
		return c.RootSecretAccessKey, true
	}
	for _, k := range c.AccessKeys {
		if k.ID == accessKeyID && k.secret != "" {
			return k.secret, true
		}
	}
	return "", false
}

// AccessPolicies returns the configured access keys' policies by id.
func (c *Config) AccessPolicies() map[string]policy.Policy {
	policies := make(map[string]policy.Policy, len(c.AccessKeys))
	for _, k := range c.AccessKeys {
		policies[k.ID] = k.Policy
	}
	return policies
}
