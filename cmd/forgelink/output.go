package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"gopkg.in/yaml.v3"
)

// Output formats of --output.
const (
	outputTable = "table"
	outputJSON  = "json"
	outputYAML  = "yaml"
)

// show prints v in the chosen format: as the wire spells it in JSON or
// YAML, or as the aligned rows table writes.
func (x *call) show(v any, table func(w io.Writer)) error {
	return x.showText(v, func(w io.Writer) error { return tabulate(w, table) })
}

// showText is show for a text form that is not one table.
func (x *call) showText(v any, text func(w io.Writer) error) error {
	switch x.cli.common.output {
	case outputJSON:
		return writeJSON(x.cli.stdout, v)
	case outputYAML:
		return writeYAML(x.cli.stdout, v)
	}
	return text(x.cli.stdout)
}

// done confirms a change: in table mode with a sentence, otherwise with
// the answer (nil for an empty one), never a sentence a program would
// have to skip.
func (x *call) done(answer any, format string, args ...any) error {
	if answer == nil {
		answer = struct{}{}
	}
	return x.showText(answer, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, format+"\n", args...)
		return err
	})
}

// doneTable is done with the changed record's table after the sentence.
func (x *call) doneTable(answer any, table func(w io.Writer), format string, args ...any) error {
	return x.showText(answer, func(w io.Writer) error {
		fmt.Fprintf(w, format+"\n", args...)
		return tabulate(w, table)
	})
}

// tabulate has table write tab-separated rows, header first, and aligns
// them.
func tabulate(w io.Writer, table func(w io.Writer)) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// wireDoc is v as the wire spells it: PascalCase member names, absent
// members left out, and no client-side ResultMetadata.
func wireDoc(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode output: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("encode output: %w", err)
	}
	if m, ok := doc.(map[string]any); ok {
		delete(m, "ResultMetadata")
	}
	return dropNulls(doc), nil
}

func writeJSON(w io.Writer, v any) error {
	doc, err := wireDoc(v)
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	_, err = w.Write(append(out, '\n'))
	return err
}

// writeYAML writes the same document as writeJSON, in YAML: numbers keep
// the digits the wire sent.
func writeYAML(w io.Writer, v any) error {
	doc, err := wireDoc(v)
	if err != nil {
		return err
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(yamlNode(doc)); err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	return enc.Close()
}

// yamlNode converts a decoded JSON document; members sorted as in JSON.
func yamlNode(v any) *yaml.Node {
	switch v := v.(type) {
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, yamlNode(v[k]))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range v {
			n.Content = append(n.Content, yamlNode(e))
		}
		return n
	case json.Number:
		tag := "!!float"
		if _, err := v.Int64(); err == nil {
			tag = "!!int"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v.String()}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(v)}
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
}

// dropNulls removes null members, which the SDK's nil pointers become.
func dropNulls(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if e == nil {
				delete(v, k)
			} else {
				v[k] = dropNulls(e)
			}
		}
	case []any:
		for i, e := range v {
			v[i] = dropNulls(e)
		}
	}
	return v
}
