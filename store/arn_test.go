package store

import "testing"

func TestARNs(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"connection of codeconnections", Connection{ID: "c1", Region: "us-east-1", Service: ServiceCodeConnections}.ARN("123456789012"),
			"arn:aws:codeconnections:us-east-1:123456789012:connection/c1"},
		{"connection kept as codestar-connections", Connection{ID: "c2", Region: "eu-south-1", Service: ServiceCodeStarConnections}.ARN("123456789012"),
			"arn:aws:codestar-connections:eu-south-1:123456789012:connection/c2"},
		{"connection without a prefix", Connection{ID: "c3", Region: "us-east-1"}.ARN("123456789012"),
			"arn:aws:codeconnections:us-east-1:123456789012:connection/c3"},
		{"host", Host{ID: "ghes-0123abcd", Region: "eu-south-1", Service: ServiceCodeStarConnections}.ARN("123456789012"),
			"arn:aws:codestar-connections:eu-south-1:123456789012:host/ghes-0123abcd"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, tt.got, tt.want)
		}
	}
}
