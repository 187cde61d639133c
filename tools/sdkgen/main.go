// sdkgen writes the lvs package's SDKs for Go, Python and .NET from schema.json, with the code
// generators of github.com/pulumi/pulumi/pkg/v3 that `pulumi package gen-sdk` hands to each
// language's plugin (the Go, Python and .NET language hosts are not served by the module proxy
// our machines reach, so the CLI's gen-sdk cannot run here; the generators it would reach can).
//
//	go run . -schema ../../schema.json -version 0.3.0 -out ../../sdk
//
// Each language's files go to OUT/<language>, replacing what was there.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"

	dotnetgen "github.com/pulumi/pulumi/pkg/v3/codegen/dotnet"
	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	pygen "github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

const tool = "pulumi-lvs sdkgen"

func main() {
	schemaPath := flag.String("schema", "schema.json", "the package schema")
	version := flag.String("version", "", "the package version the SDKs carry (package.json's)")
	out := flag.String("out", "sdk", "the directory that gets go/, python/ and dotnet/")
	pulumiSDK := flag.String("pulumi-go-sdk", "v3.248.0", "the github.com/pulumi/pulumi/sdk/v3 the Go SDK requires")
	flag.Parse()
	if err := run(*schemaPath, *version, *out, *pulumiSDK); err != nil {
		fmt.Fprintf(os.Stderr, "sdkgen: %v\n", err)
		os.Exit(1)
	}
}

func run(schemaPath, version, out, pulumiSDK string) error {
	text, err := os.ReadFile(schemaPath)
	if err != nil {
		return err
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(text, &spec); err != nil {
		return fmt.Errorf("%s: %w", schemaPath, err)
	}
	if version == "" {
		return fmt.Errorf("-version is required")
	}
	spec.Version = version
	languages := map[string]schema.Language{"go": gogen.Importer, "python": pygen.Importer, "csharp": dotnetgen.Importer}

	generators := map[string]func(*schema.Package) (map[string][]byte, error){
		"go":     func(p *schema.Package) (map[string][]byte, error) { return gogen.GeneratePackage(tool, p, nil) },
		"python": func(p *schema.Package) (map[string][]byte, error) { return pygen.GeneratePackage(tool, p, nil, nil) },
		"dotnet": func(p *schema.Package) (map[string][]byte, error) {
			p.LogoURL = logoURL
			return dotnetgen.GeneratePackage(tool, p, nil, nil)
		},
	}
	for _, lang := range []string{"go", "python", "dotnet"} {
		// Each generator imports its language's section into the package it is given: bind afresh.
		pkg, err := schema.ImportSpec(spec, languages, schema.ValidationOptions{})
		if err != nil {
			return fmt.Errorf("binding %s: %w", schemaPath, err)
		}
		files, err := generators[lang](pkg)
		if err != nil {
			return fmt.Errorf("%s SDK: %w", lang, err)
		}
		dir := filepath.Join(out, lang)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		for name, body := range files {
			body = withoutRemoteURLs(body)
			file := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(file, body, 0o644); err != nil {
				return err
			}
		}
		fmt.Fprintf(os.Stderr, "sdkgen: %s: %d files in %s\n", lang, len(files), dir)
	}
	// The Go SDK is a module of its own (`make sdk` then runs go mod tidy in it).
	mod := fmt.Sprintf("module pulumi-lvs/sdk/go\n\ngo 1.24\n\nrequire github.com/pulumi/pulumi/sdk/v3 %s\n", pulumiSDK)
	if err := os.WriteFile(filepath.Join(out, "go", "go.mod"), []byte(mod), 0o644); err != nil {
		return err
	}
	// What the SDKs were made from, which a unit test compares with schema.json and package.json.
	sum := sha256.Sum256(text)
	stamp := fmt.Sprintf("schema.json sha256 %s\nversion %s\n", hex.EncodeToString(sum[:]), version)
	return os.WriteFile(filepath.Join(out, "GENERATED-FROM"), []byte(stamp), 0o644)
}

// The .NET generator fetches the package's logo from its URL (by default from the internet, which
// this machine does not reach): it gets a plain one made here, through a scheme of our own.
const logoURL = "sdkgen-logo://logo.png"

type logoTransport struct{}

func (logoTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		img.Pix[i] = []byte{0x1f, 0x5f, 0x8f, 0xff}[i%4]
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: 200, Body: io.NopCloser(&b), Request: req, Header: http.Header{}}, nil
}

func init() {
	http.DefaultTransport.(*http.Transport).RegisterProtocol("sdkgen-logo", logoTransport{})
}

// The generators' boilerplate cites a Go source file by its web address; this repository
// keeps no such address in its files (not even here: the pattern names no host), so the
// comment names the file instead.
var atobURL = regexp.MustCompile(`https?://[^/\s]+/src/strconv/atob\.go[^\s"',]*`)

func withoutRemoteURLs(body []byte) []byte {
	return atobURL.ReplaceAll(body, []byte("Go's strconv.ParseBool (src/strconv/atob.go)"))
}
