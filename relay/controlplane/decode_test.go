package controlplane

import (
	"bytes"
	"reflect"
	"testing"
)

// decodeInput has the shapes whose decoding differs when a member is
// repeated: encoding/json merges a repeated object into the struct or
// map the first one filled.
type decodeInput struct {
	ConnectionArn *string
	Tags          []wireTag
	MaxResults    *int
	Vpc           *struct {
		VpcId     *string
		SubnetIds []string
	}
	Labels   map[string]string
	Anything any
	Renamed  *string `json:"renamed,omitempty"`
	internal string
}

// TestDecodeRepeatedMembers: a repeated member is its last value, as
// the tree the body is parsed into keeps it, never a merge of both.
func TestDecodeRepeatedMembers(t *testing.T) {
	tests := []struct {
		body string
		want func(in *decodeInput) bool
	}{
		{`{"Tags":[{"Key":"a","Value":"v"}],"Tags":[{"Key":"b"}]}`,
			func(in *decodeInput) bool {
				return len(in.Tags) == 1 && deref(in.Tags[0].Key) == "b" && in.Tags[0].Value == nil
			}},
		{`{"Vpc":{"VpcId":"vpc-1"},"Vpc":{"SubnetIds":["s"]}}`,
			func(in *decodeInput) bool { return in.Vpc.VpcId == nil && len(in.Vpc.SubnetIds) == 1 }},
		{`{"Labels":{"a":"1"},"Labels":{"b":"2"}}`,
			func(in *decodeInput) bool { return len(in.Labels) == 1 && in.Labels["b"] == "2" }},
		{`{"Vpc":{"VpcId":"vpc-1","VpcId":"vpc-2"}}`,
			func(in *decodeInput) bool { return deref(in.Vpc.VpcId) == "vpc-2" }},
		{`{"Connection\u0041rn":"escaped","ConnectionArn":"plain"}`,
			func(in *decodeInput) bool { return deref(in.ConnectionArn) == "plain" }},
		{`{"ConnectionArn":"a:b\":{","renamed":"r"}`,
			func(in *decodeInput) bool { return deref(in.ConnectionArn) == `a:b":{` && deref(in.Renamed) == "r" }},
		{`{"ConnectionArn":"a"}}`,
			func(in *decodeInput) bool { return deref(in.ConnectionArn) == "a" }},
	}
	for _, tc := range tests {
		var in decodeInput
		if err := decode([]byte(tc.body), &in); err != nil || !tc.want(&in) {
			t.Errorf("%s: %+v, %v", tc.body, in, err)
		}
	}
}

func TestMemberSeparators(t *testing.T) {
	tests := []struct {
		json string
		want int
	}{
		{`{}`, 0},
		{`{"a":1,"b":{"c":[{"d":2}]}}`, 4},
		{`{"a:b":"c:d"}`, 1},
		{`{"a":"\":\\","b":"\\\":"}`, 2},
		{`[":",{"x":"y"}]`, 1},
	}
	for _, tc := range tests {
		if got := memberSeparators([]byte(tc.json)); got != tc.want {
			t.Errorf("memberSeparators(%s) = %d, want %d", tc.json, got, tc.want)
		}
	}
}

// FuzzDecodeAsTree checks decode against decoding the parsed tree with
// the unknown members dropped, which decode skips when it can.
func FuzzDecodeAsTree(f *testing.F) {
	f.Add([]byte(`{"ConnectionArn":"a","Tags":[{"Key":"k","Value":"v"}],"MaxResults":3,"Vpc":{"VpcId":"v"}}`))
	f.Add([]byte(`{"Tags":[{"Key":"a","Value":"v"}],"Tags":[{"Key":"b"}],"maxresults":1}`))
	f.Add([]byte(`{"Vpc":{"VpcId":"v"},"Vpc":{"SubnetIds":["s"]},"Labels":{"a":"b"},"Anything":{"x":[1,{"y":2}]}}`))
	f.Add([]byte(`{"MaxResults":"x","ConnectionArn":5,"renamed":"r","Renamed":"R"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var got, want decodeInput
		err := decode(body, &got)
		var wantErr error
		if raw, _, perr := parseObject(body); perr != nil {
			wantErr = perr
		} else {
			dropUnknown(raw, reflect.TypeOf(&want))
			wantErr = decodeTree(raw, &want)
		}
		if len(bytes.TrimSpace(body)) == 0 { // an empty input
			wantErr, want = nil, decodeInput{}
		}
		if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Fatalf("%q: decode error %v, as a tree %v", body, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decode %+v, as a tree %+v", body, got, want)
		}
	})
}

// BenchmarkDecode: decoding request bodies into operations' inputs, with
// only known members (decoded from the body) and with an unknown one
// (decoded from the tree without it).
func BenchmarkDecode(b *testing.B) {
	bodies := []struct {
		name, body string
		in         func() any
	}{
		{"GetConnection", `{"ConnectionArn":"arn:aws:codeconnections:us-east-1:123456789012:connection/6f0a8a3c-8d5e-4a8e-9c1b-0d6f1c8e2b7a"}`,
			func() any { return new(connectionIn) }},
		{"CreateConnection", `{"ConnectionName":"bench","ProviderType":"GitHub","Tags":[{"Key":"team","Value":"a"},{"Key":"env","Value":"prod"}]}`,
			func() any { return new(createConnectionIn) }},
		{"UnknownMember", `{"ConnectionArn":"arn:aws:codeconnections:us-east-1:123456789012:connection/x","ClientToken":"abc"}`,
			func() any { return new(connectionIn) }},
	}
	for _, bb := range bodies {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			body := []byte(bb.body)
			for b.Loop() {
				if err := decode(body, bb.in()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
