#!/bin/sh
# Seeds the fuzz corpora with the recorded hub exchanges and the fixtures
# written by Koji's own marshaller.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
caps="$here/../../../testing/koji-captures"
fix="$here/../tests/fixtures/xml"
mkdir -p "$here/corpus/decode_response" "$here/corpus/decode_call"
cp "$caps"/*.response.xml "$fix"/*.xml "$here/corpus/decode_response/"
cp "$caps"/*.request.xml "$fix"/call-*.xml "$here/corpus/decode_call/"
