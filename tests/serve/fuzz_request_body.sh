#!/usr/bin/env bash
# fuzz.request_body: fuzzes fer-serve's request body rules (raw images, multipart) with
# libFuzzer + ASan/UBSan from a small seed corpus of valid and broken bodies.
# FER_FUZZ_SECONDS (default 20) sets how long. Skips (77) without clang's libFuzzer.
source "$FER_ROOT/tests/tools/libfuzzer.sh"
fuzz_prepare request_body
corpus="$fuzz_work/corpus"
printf 'image/png\n\x89PNG\r\n\x1a\n' >"$corpus/raw"
printf 'multipart/form-data; boundary=b\n--b\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\nPNGDATA\r\n--b--\r\n' >"$corpus/multipart"
printf 'multipart/form-data; boundary="q;x"\npre\r\n--q;x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--q;x\r\nContent-Disposition: form-data; name="f"; filename="f"\r\n\r\nF\r\n--q;x--' >"$corpus/two-parts"
printf 'multipart/form-data; boundary=b\n--b\r\n\r\nX\r\n--b' >"$corpus/unclosed"
fuzz_run request_body "$FER_ROOT/tests/serve/fuzz_request_body.cpp" "$FER_ROOT/src/serve/request_body.cpp"
