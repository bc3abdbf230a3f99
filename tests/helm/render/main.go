// render: renders a Helm chart the way `helm template` does, with Go's text/template, sprig and
// the functions Helm adds (include, tpl, required, toYaml, fromYaml, toJson), and validates the
// values against values.schema.json like Helm. Helm itself is not packaged in Debian; this is the
// same engine. Output: JSON {"docs": [{"template": ..., "doc": ...}], "notes": "..."}.
//
// Usage: render [-f values.yaml]... [-name RELEASE] [-namespace NS] CHART_DIR
//        render -yaml2json < STREAM   (a YAML stream as a JSON list of its documents, for tests
//                                      that compare other tools' YAML with the chart's)
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"github.com/xeipuuv/gojsonschema"
	"gopkg.in/yaml.v3"
)

type valueFiles []string

func (v *valueFiles) String() string     { return strings.Join(*v, ",") }
func (v *valueFiles) Set(s string) error { *v = append(*v, s); return nil }

// normalize turns yaml.v3's map[string]interface{} trees into JSON-compatible ones.
func normalize(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		for k, x := range t {
			t[k] = normalize(x)
		}
		return t
	case map[interface{}]interface{}:
		m := map[string]interface{}{}
		for k, x := range t {
			m[fmt.Sprint(k)] = normalize(x)
		}
		return m
	case []interface{}:
		for i, x := range t {
			t[i] = normalize(x)
		}
		return t
	}
	return v
}

// merge overlays src onto dst as Helm coalesces values files.
func merge(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if sm, ok := v.(map[string]interface{}); ok {
			if dm, ok := dst[k].(map[string]interface{}); ok {
				dst[k] = merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}

func loadYAML(path string) (map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return normalize(out).(map[string]interface{}), nil
}

func toYAML(v interface{}) string {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	var files valueFiles
	flag.Var(&files, "f", "values file (repeatable)")
	name := flag.String("name", "release", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	yaml2json := flag.Bool("yaml2json", false, "convert a YAML stream on stdin to JSON")
	flag.Parse()
	if *yaml2json {
		var docs []interface{}
		dec := yaml.NewDecoder(os.Stdin)
		for {
			var doc interface{}
			if err := dec.Decode(&doc); err != nil {
				if err == io.EOF {
					break
				}
				fail("yaml: %v", err)
			}
			docs = append(docs, normalize(doc))
		}
		out, err := json.Marshal(docs)
		if err != nil {
			fail("json: %v", err)
		}
		fmt.Println(string(out))
		return
	}
	if flag.NArg() != 1 {
		fail("usage: render [-f values.yaml]... [-name RELEASE] [-namespace NS] CHART_DIR")
	}
	chartDir := flag.Arg(0)
	chart, err := loadYAML(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		fail("%v", err)
	}
	if chart["apiVersion"] != "v2" {
		fail("Chart.yaml: apiVersion must be v2")
	}
	values, err := loadYAML(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		fail("%v", err)
	}
	for _, f := range files {
		override, err := loadYAML(f)
		if err != nil {
			fail("%v", err)
		}
		values = merge(values, override)
	}
	if schema, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json")); err == nil {
		result, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(schema),
			gojsonschema.NewGoLoader(values))
		if err != nil {
			fail("values.schema.json: %v", err)
		}
		if !result.Valid() {
			var msgs []string
			for _, e := range result.Errors() {
				msgs = append(msgs, "- "+e.String())
			}
			fail("values don't meet the specifications of the schema(s):\n%s",
				strings.Join(msgs, "\n"))
		}
	}
	top := map[string]interface{}{
		"Values": values,
		"Chart": map[string]interface{}{
			"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"],
		},
		"Release": map[string]interface{}{
			"Name": *name, "Namespace": *namespace, "Service": "Helm", "IsInstall": true,
		},
	}

	root := template.New("chart").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		_ = yaml.Unmarshal([]byte(s), &m)
		return m
	}
	funcs["toJson"] = func(v interface{}) string { b, _ := json.Marshal(v); return string(b) }
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil || v == "" {
			return nil, fmt.Errorf(msg)
		}
		return v, nil
	}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		var buf bytes.Buffer
		err := root.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		err = t.Execute(&buf, data)
		return buf.String(), err
	}
	root.Funcs(funcs)

	paths, _ := filepath.Glob(filepath.Join(chartDir, "templates", "*"))
	sort.Strings(paths)
	for _, p := range paths {
		text, err := os.ReadFile(p)
		if err != nil {
			fail("%v", err)
		}
		rel := filepath.Join(chart["name"].(string), "templates", filepath.Base(p))
		if _, err := root.New(rel).Parse(string(text)); err != nil {
			fail("parse %s: %v", rel, err)
		}
	}
	type doc struct {
		Template string      `json:"template"`
		Doc      interface{} `json:"doc"`
	}
	out := struct {
		Docs  []doc  `json:"docs"`
		Notes string `json:"notes"`
	}{Docs: []doc{}}
	for _, p := range paths {
		base := filepath.Base(p)
		if strings.HasPrefix(base, "_") {
			continue
		}
		rel := filepath.Join(chart["name"].(string), "templates", base)
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, rel, top); err != nil {
			fail("render %s: %v", rel, err)
		}
		rendered := strings.ReplaceAll(buf.String(), "<no value>", "")
		if base == "NOTES.txt" {
			out.Notes = rendered
			continue
		}
		dec := yaml.NewDecoder(strings.NewReader(rendered))
		for {
			var v interface{}
			err := dec.Decode(&v)
			if err != nil {
				if err == io.EOF {
					break
				}
				fail("%s renders invalid YAML: %v\n%s", rel, err, rendered)
			}
			if v != nil {
				out.Docs = append(out.Docs, doc{rel, normalize(v)})
			}
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		fail("%v", err)
	}
}
