package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/forgelink/forgelink/cmd/forgelink/internal/sdktransport"
	"github.com/forgelink/forgelink/relay/sigv4"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections"
	"github.com/aws/aws-sdk-go-v2/service/codeconnections/types"
	"github.com/aws/smithy-go"
)

// defaultEndpoint is where a daemon started with default settings listens.
const defaultEndpoint = "http://127.0.0.1:7788"

// cli is one invocation's surroundings: where output goes, where input and
// settings come from. Commands reach nothing global.
type cli struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	getenv         func(string) string

	common commonFlags
	// credentials describes what the client signed with (never a secret),
	// for the hint on an authentication error.
	credentials string
}

// commonFlags are the flags every client command accepts.
type commonFlags struct {
	endpoint string
	region   string
	output   string
	// chosenRegion is the region the user chose (flag or environment),
	// sent with unsigned requests (unsignedRegion); empty: the default.
	chosenRegion string
}

// addClientFlags registers the common flags on fs. The defaults shown are
// fixed; the environment is read when a command runs, so that help does
// not depend on it.
func (c *cli) addClientFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.common.endpoint, "endpoint-url", "",
		"forgelink daemon `URL` (env FORGELINK_ENDPOINT, default "+defaultEndpoint+")")
	fs.StringVar(&c.common.region, "region", "",
		"AWS `region` to sign requests for (env AWS_REGION, AWS_DEFAULT_REGION, default us-east-1)")
	fs.StringVarP(&c.common.output, "output", "o", "table", "output `format`: table, json or yaml")
}

// clientGroup is a group of client commands, which all take the common flags.
func (c *cli) clientGroup(use, short string, subs ...*cobra.Command) *cobra.Command {
	g := group(use, short, subs...)
	c.addClientFlags(g.PersistentFlags())
	return g
}

// call is one run of a client command: its arguments, its clients and its
// output.
type call struct {
	ctx  context.Context
	cli  *cli
	cmd  *cobra.Command
	args []string
	api  *codeconnections.Client // CodeConnections operations
	ext  *extClient              // forgelink's own operations
}

// leaf builds a client command: the positional arguments are checked, the
// common flags resolved and both clients built before run is called, and a
// service error comes back as the service put it.
func (c *cli) leaf(use, short string, args cobra.PositionalArgs, run func(x *call) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.resolveCommon(); err != nil {
				return err
			}
			x := &call{ctx: cmd.Context(), cli: c, cmd: cmd, args: args}
			cfg, err := c.awsConfig(x.ctx)
			if err != nil {
				return err
			}
			x.api = c.sdkClient(cfg)
			x.ext = newExtClient(c.common.endpoint, cfg)
			x.ext.http.Transport = unsignedRegion(cfg, c.common.chosenRegion, http.DefaultTransport)
			return shortAPIError(run(x))
		},
	}
}

// topLeaf is a client command directly under the root, with the common
// flags of its own.
func (c *cli) topLeaf(use, short string, args cobra.PositionalArgs, run func(x *call) error) *cobra.Command {
	cmd := c.leaf(use, short, args, run)
	c.addClientFlags(cmd.Flags())
	return cmd
}

// resolveCommon fills in what the flags left to the environment.
func (c *cli) resolveCommon() error {
	c.common.endpoint = cmp.Or(c.common.endpoint, c.getenv("FORGELINK_ENDPOINT"), defaultEndpoint)
	c.common.chosenRegion = cmp.Or(c.common.region, c.getenv("AWS_REGION"), c.getenv("AWS_DEFAULT_REGION"))
	c.common.region = cmp.Or(c.common.chosenRegion, "us-east-1")
	switch c.common.output {
	case outputTable, outputJSON, outputYAML:
		return nil
	}
	return usagef("unknown --output %q; want table, json or yaml", c.common.output)
}

// sdkClient is a CodeConnections client for the resolved common flags.
func (c *cli) sdkClient(cfg aws.Config) *codeconnections.Client {
	return codeconnections.NewFromConfig(cfg, func(o *codeconnections.Options) {
		o.BaseEndpoint = aws.String(c.common.endpoint)
		o.HTTPClient = &http.Client{Transport: unsignedRegion(cfg, c.common.chosenRegion, sdktransport.BufferedBodies(http.DefaultTransport))}
	})
}

// awsConfig resolves region and credentials for either client: the
// standard AWS credential chain, else the daemon's root credentials from
// the environment, and otherwise unsigned requests, which a daemon
// without credentials accepts on loopback.
func (c *cli) awsConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion(c.common.region),
		// IMDS is never the daemon's credential source and would only add
		// network timeouts off EC2.
		config.WithEC2IMDSClientEnableState(imds.ClientDisabled),
	)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load aws config: %w", err)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err == nil {
		c.credentials = describeCredentials(creds, c.getenv)
		return cfg, nil
	}
	cfg.Credentials = aws.AnonymousCredentials{}
	c.credentials = "no credentials (requests went unsigned)"
	if id, secret := c.getenv("FORGELINK_ROOT_ACCESS_KEY_ID"), c.getenv("FORGELINK_ROOT_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		cfg.Credentials = credentials.NewStaticCredentialsProvider(id, secret, "")
		c.credentials = "FORGELINK_ROOT_ACCESS_KEY_ID from the environment (key " + maskKeyID(id) + ")"
	}
	return cfg, nil
}

// describeCredentials names where the SDK found a key, and the key's id
// masked as the AWS CLI's `configure list` does.
func describeCredentials(creds aws.Credentials, getenv func(string) string) string {
	key := " (key " + maskKeyID(creds.AccessKeyID) + ")"
	switch src := creds.Source; {
	case src == credentials.StaticCredentialsName:
		return "a static key" + key
	case strings.HasPrefix(src, "EnvConfigCredentials"):
		return "AWS_ACCESS_KEY_ID from the environment" + key
	case strings.HasPrefix(src, "SharedConfigCredentials"):
		return fmt.Sprintf("profile %q of the AWS shared files", cmp.Or(getenv("AWS_PROFILE"), getenv("AWS_DEFAULT_PROFILE"), "default")) + key
	default:
		return "the AWS SDK's credential chain (" + src + ")" + key
	}
}

func maskKeyID(id string) string {
	if len(id) <= 4 {
		return "****"
	}
	return strings.Repeat("*", len(id)-4) + id[len(id)-4:]
}

// authCodes are the errors a daemon answers to a request whose signature
// or key it does not accept, or whose key may not do what was asked.
var authCodes = []string{
	sigv4.CodeMissingAuthenticationToken, sigv4.CodeUnrecognizedClient, sigv4.CodeInvalidSignature,
	sigv4.CodeIncompleteSignature, "AccessDeniedException", "AccessDenied",
}

// authHint tells, after an authentication error, what the client signed
// with and how to choose another key.
func (c *cli) authHint(err error) string {
	var api smithy.APIError
	if c.credentials == "" || !errors.As(err, &api) || !slices.Contains(authCodes, api.ErrorCode()) {
		return ""
	}
	return "hint: this used " + c.credentials + "; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), " +
		"or FORGELINK_ROOT_ACCESS_KEY_ID and FORGELINK_ROOT_SECRET_ACCESS_KEY, to a key the daemon accepts " +
		"(README, \"The forgelink CLI\")"
}

// apiError shows a service error as the service put it, without the SDK's
// operation and request details, yet still unwraps to the SDK error.
type apiError struct {
	err error
	api smithy.APIError
}

func (e *apiError) Error() string { return e.api.ErrorCode() + ": " + e.api.ErrorMessage() }
func (e *apiError) Unwrap() error { return e.err }

func shortAPIError(err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		return &apiError{err: err, api: api}
	}
	return err
}

// tagFlag registers the repeatable --tag KEY=VALUE flag.
func tagFlag(fs *pflag.FlagSet) *[]types.Tag {
	v := &tagsValue{}
	fs.Var(v, "tag", "add tag `KEY=VALUE` (repeatable)")
	return &v.tags
}

// tagsValue is the pflag.Value of a repeated --tag.
type tagsValue struct{ tags []types.Tag }

func (v *tagsValue) String() string { return "" }
func (v *tagsValue) Type() string   { return "KEY=VALUE" }
func (v *tagsValue) Set(s string) error {
	t, err := parseTag(s)
	if err != nil {
		return err
	}
	v.tags = append(v.tags, t)
	return nil
}

func parseTag(s string) (types.Tag, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return types.Tag{}, fmt.Errorf("tag %q is not KEY=VALUE", s)
	}
	return types.Tag{Key: aws.String(k), Value: aws.String(v)}, nil
}

// optional returns nil for an unset string flag, which the SDK then omits.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// required fails with a usage error naming the first of flags not given.
func required(cmd *cobra.Command, flags ...string) error {
	for _, f := range flags {
		if v := cmd.Flags().Lookup(f); v == nil || v.Value.String() == "" {
			return usagef("--%s is required", f)
		}
	}
	return nil
}
