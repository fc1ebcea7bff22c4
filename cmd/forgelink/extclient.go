package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"
)

// extClient calls forgelink's own operations (webhooks, events), which no
// AWS SDK knows: the same JSON 1.0 protocol in the Forgelink_20261125
// namespace, SigV4-signed under the signing name "forgelink".
type extClient struct {
	endpoint string
	cfg      aws.Config
	http     *http.Client
}

const (
	extTargetPrefix = "Forgelink_20261125."
	extSigningName  = "forgelink"
)

func newExtClient(endpoint string, cfg aws.Config) *extClient {
	return &extClient{endpoint: endpoint, cfg: cfg, http: &http.Client{Timeout: time.Minute}}
}

// call posts in to operation op and decodes the answer into out. Service
// errors come back as smithy.APIError, like the SDK's.
func (c *extClient) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s: encode input: %w", op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", extTargetPrefix+op)
	if err := c.sign(ctx, req, body); err != nil {
		return fmt.Errorf("%s: sign: %w", op, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s: read response: %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %w", op, decodeAPIError(resp.StatusCode, raw))
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s: decode response: %w", op, err)
	}
	return nil
}

func (c *extClient) sign(ctx context.Context, req *http.Request, body []byte) error {
	if _, anonymous := c.cfg.Credentials.(aws.AnonymousCredentials); anonymous {
		return nil
	}
	creds, err := c.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	return v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), extSigningName, c.cfg.Region, time.Now())
}

func decodeAPIError(status int, raw []byte) error {
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &e) != nil || e.Type == "" {
		return fmt.Errorf("unexpected HTTP status %d", status)
	}
	fault := smithy.FaultClient
	if status >= 500 {
		fault = smithy.FaultServer
	}
	return &smithy.GenericAPIError{Code: e.Type, Message: e.Message, Fault: fault}
}
