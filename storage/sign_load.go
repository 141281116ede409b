package storage

// LoadSigner loads the signer's private key from path, a PEM PKCS #8 file,
// without creating one when there is none: for commands that sign what
// the deployment recorded (case bundles) and must use its key.
func LoadSigner(path string) (*Signer, error) {
	return loadPrivateKey(path)
}
