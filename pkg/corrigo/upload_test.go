package corrigo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestUploadAttachmentMultipart(t *testing.T) {
	for _, path := range []string{"api/attachments", "api/invoice/attachments"} {
		t.Run(path, func(t *testing.T) {
			f := newClientFake(t)
			f.unauthorizedN = 1 // the body must survive the 401 retry
			type got struct {
				fields   map[string]string
				file     []byte
				fileName string
				fileType string
			}
			var g got
			f.setHandler(func(w http.ResponseWriter, r *http.Request, _ clientRecorded) {
				if err := r.ParseMultipartForm(1 << 20); err != nil {
					http.Error(w, err.Error(), 400)
					return
				}
				g.fields = map[string]string{}
				for k, v := range r.MultipartForm.Value {
					g.fields[k] = v[0]
				}
				fh := r.MultipartForm.File["File"][0]
				g.fileName, g.fileType = fh.Filename, fh.Header.Get("Content-Type")
				fr, _ := fh.Open()
				g.file, _ = io.ReadAll(fr)
				_, _ = io.WriteString(w, `{"AttachmentId":"0f8fad5b-d9cb-469f-a165-70867728950e"}`)
			})
			var logged []byte
			c := f.client(func(cfg *Config) {
				cfg.Observer = func(e Exchange) {
					if strings.Contains(e.URL, "/Direct/") {
						logged = e.RequestBody
					}
				}
			})
			content := bytes.Repeat([]byte{0xff, 0xd8, 0x00}, 1000)
			up := AttachmentUpload{
				WorkOrderId: 42, Name: "photo.jpg", DocumentType: "Picture", MessageVisibility: "CruOnly",
				MimeType: "image/jpeg", Content: bytes.NewReader(content), Size: int64(len(content)),
				PerformedBy: &Person{Name: "Ann"},
			}
			var id string
			var err error
			if path == "api/attachments" {
				id, err = c.UploadAttachment(context.Background(), up)
			} else {
				id, err = c.UploadInvoiceAttachment(context.Background(), up)
			}
			if err != nil {
				t.Fatal(err)
			}
			if id != "0f8fad5b-d9cb-469f-a165-70867728950e" {
				t.Errorf("id %q", id)
			}
			reqs := f.requests()
			if len(reqs) != 2 || reqs[1].Method != "POST" || reqs[1].Path != path {
				t.Fatalf("requests %d, last %s %s", len(reqs), reqs[len(reqs)-1].Method, reqs[len(reqs)-1].Path)
			}
			if ct := reqs[1].Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/form-data; boundary=") {
				t.Errorf("Content-Type %q", ct)
			}
			want := map[string]string{"WorkOrderId": "42", "Name": "photo.jpg", "DocumentType": "Picture", "MessageVisibility": "CruOnly", "MimeType": "image/jpeg", "PerformedBy": `{"Name":"Ann"}`}
			for k, v := range want {
				if g.fields[k] != v {
					t.Errorf("field %s = %q, want %q", k, g.fields[k], v)
				}
			}
			if g.fields["MessageId"] == "" {
				t.Error("no MessageId field")
			}
			if !bytes.Equal(g.file, content) || g.fileName != "photo.jpg" || g.fileType != "image/jpeg" {
				t.Errorf("file %q (%s), %d bytes", g.fileName, g.fileType, len(g.file))
			}
			if bytes.Contains(logged, content[:30]) || !bytes.Contains(logged, []byte(`"Size":3000`)) {
				t.Errorf("observer got %s, want a summary without the file", logged)
			}
		})
	}
}

func TestUploadAttachmentRefusedClientSide(t *testing.T) {
	tests := []struct {
		name    string
		up      AttachmentUpload
		wantIs  error
		wantErr string
	}{
		{"declared size over 20 MB", AttachmentUpload{WorkOrderId: 1, Name: "big.pdf", MimeType: "application/pdf", Content: strings.NewReader("x"), Size: MaxAttachmentBytes + 1}, ErrAttachmentTooLarge, "20 MB"},
		{"content over the limit", AttachmentUpload{WorkOrderId: 1, Name: "big.pdf", MimeType: "application/pdf", Content: bytes.NewReader(make([]byte, 2049))}, ErrAttachmentTooLarge, "big.pdf"},
		{"size mismatch", AttachmentUpload{WorkOrderId: 1, Name: "a.txt", MimeType: "text/plain", Content: strings.NewReader("abc"), Size: 5}, nil, "Size says 5"},
		{"no content", AttachmentUpload{WorkOrderId: 1, Name: "a.txt", MimeType: "text/plain"}, nil, "no Content"},
		{"no name", AttachmentUpload{WorkOrderId: 1, MimeType: "text/plain", Content: strings.NewReader("a")}, nil, "no Name"},
		{"no mime type", AttachmentUpload{WorkOrderId: 1, Name: "a.txt", Content: strings.NewReader("a")}, nil, "MimeType"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newClientFake(t)
			c := f.client()
			c.maxUpload = 2048 // so the test needs no 20 MB buffer
			if tt.up.Size > MaxAttachmentBytes {
				c.maxUpload = MaxAttachmentBytes
			}
			_, err := c.UploadAttachment(context.Background(), tt.up)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if tt.wantIs != nil && (!errors.Is(err, tt.wantIs) || ClassOf(err) != ClassValidation) {
				t.Fatalf("err = %v (class %s), want %v", err, ClassOf(err), tt.wantIs)
			}
			if n := f.apiRequests.Load() + f.tokenRequests.Load(); n != 0 {
				t.Fatalf("%d requests sent for a refused upload", n)
			}
		})
	}
}
