package image

import (
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media types strata knows, OCI and Docker alike. Literals rather than the
// image-spec constants because the non-distributable ones are deprecated
// there, yet archives still carry them.
const (
	mtDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mtDockerList         = "application/vnd.docker.distribution.manifest.list.v2+json"
	mtDockerSchema1      = "application/vnd.docker.distribution.manifest.v1+json"
	mtDockerSchema1Signd = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	mtDockerConfig       = "application/vnd.docker.container.image.v1+json"
	mtDockerLayer        = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	mtDockerLayerTar     = "application/vnd.docker.image.rootfs.diff.tar"
	mtDockerForeign      = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
	mtDockerForeignTar   = "application/vnd.docker.image.rootfs.foreign.diff.tar"
	mtOCINonDist         = "application/vnd.oci.image.layer.nondistributable.v1.tar"
	mtOCINonDistGzip     = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
	mtOCINonDistZstd     = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

	// legacyLayerMediaType describes a legacy docker save layer.tar, which
	// docker stores as an uncompressed diff (the layer reader sniffs the
	// compression anyway).
	legacyLayerMediaType = mtDockerLayerTar

	// annotations
	annotationRefName    = ocispec.AnnotationRefName
	annotationImageName  = "io.containerd.image.name"
	annotationRefType    = "vnd.docker.reference.type" // buildx attestation manifests
	annotationRefTypeAtt = "attestation-manifest"
)

// kind is what a JSON blob of an image layout is.
type kind int

const (
	kindUnknown kind = iota
	kindIndex
	kindManifest
	kindSchema1
)

func (k kind) String() string {
	switch k {
	case kindIndex:
		return "an index"
	case kindManifest:
		return "an image manifest"
	case kindSchema1:
		return "a docker schema 1 manifest"
	}
	return "unknown"
}

func kindOf(mediaType string) kind {
	switch mediaType {
	case ocispec.MediaTypeImageIndex, mtDockerList:
		return kindIndex
	case ocispec.MediaTypeImageManifest, mtDockerManifest:
		return kindManifest
	case mtDockerSchema1, mtDockerSchema1Signd:
		return kindSchema1
	}
	return kindUnknown
}

func isImageConfig(mediaType string) bool {
	return mediaType == ocispec.MediaTypeImageConfig || mediaType == mtDockerConfig
}

func isForeign(mediaType string) bool {
	switch mediaType {
	case mtDockerForeign, mtDockerForeignTar, mtOCINonDist, mtOCINonDistGzip, mtOCINonDistZstd:
		return true
	}
	return false
}

// isFilesystemLayer reports whether a layer of this media type is a tar to
// unpack. Media types are often wrong about compression (the layer reader
// sniffs it), so any tar type counts; what is not a tar at all (nydus,
// EROFS, in-toto, an encrypted layer) is verified and never unpacked. An
// empty media type is a legacy docker save layer.
func isFilesystemLayer(mediaType string) bool {
	if mediaType == "" || isLayer(mediaType) {
		return true
	}
	mt := strings.ToLower(mediaType)
	if strings.Contains(mt, "encrypted") {
		return false
	}
	return strings.Contains(mt, ".tar") || strings.HasSuffix(mt, "/tar") || strings.Contains(mt, "tar+")
}

func isLayer(mediaType string) bool {
	switch mediaType {
	case ocispec.MediaTypeImageLayer, ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageLayerZstd,
		mtDockerLayer, mtDockerLayerTar:
		return true
	}
	return isForeign(mediaType)
}
