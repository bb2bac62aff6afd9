/*
 * main.c — a fuzz target as a libFuzzer program: CMake builds this once
 * per fuzz/fuzz_NAME.c with FUZZ_ONE=fuzz_NAME_one (fuzz.h) and links
 * libFuzzer, whose main calls the entry point below for every input.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return FUZZ_ONE(data, size);
}
