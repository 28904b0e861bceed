//! Submit side, end to end: `koji-osbuild image` and `koji osbuild-image`
//! against the test hub, over HTTP and HTTPS.
