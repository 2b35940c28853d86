package caddyjwt

import "strings"

// challengeParams are the parameters a challenge carries beyond the error
// code and description, all worked out in Provision.
type challengeParams struct {
	stepUp stepUpParams
	// resourceMetadata is the URL of the resource's metadata document
	// (RFC 9728 §5.1), "" without a `resource`. Every challenge carries
	// it, so that a client that knows nothing yet can find the
	// authorization server.
	resourceMetadata string
}

func (p *challengeParams) appendTo(b *strings.Builder, info *reasonInfo) {
	p.stepUp.appendTo(b, info)
	appendParam(b, "resource_metadata", p.resourceMetadata)
}
