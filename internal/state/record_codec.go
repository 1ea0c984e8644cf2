package state

import (
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
)

// castagnoli is CRC-32C, computed in hardware on amd64 and arm64.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Since schema 2 a record's value is its CRC-32C (over the key's name and
// the JSON, big-endian) followed by the JSON: bbolt checks its pages'
// structure but not the bytes of a value, so a flipped bit inside a record
// (or in its name) would otherwise be read as a valid, different record.
const crcSize = 4

func encodeRecord(name []byte, js []byte) []byte {
	v := make([]byte, crcSize+len(js))
	copy(v[crcSize:], js)
	binary.BigEndian.PutUint32(v, recordCRC(name, js))
	return v
}

func recordCRC(name, js []byte) uint32 {
	return crc32.Update(crc32.Checksum(name, castagnoli), castagnoli, js)
}

// checkRecord checks a stored value without decoding it: since schema 2
// the checksum covers the name and the JSON; before, the JSON is decoded.
func checkRecord(schema int, name, v []byte) error {
	if schema < 2 {
		_, err := decodeRecord(schema, name, v)
		return err
	}
	if len(v) < crcSize {
		return corrupt("record %q: %d bytes, shorter than its checksum", name, len(v))
	}
	if got, want := recordCRC(name, v[crcSize:]), binary.BigEndian.Uint32(v); got != want {
		return corrupt("record %q: checksum mismatch (stored %08x, computed %08x)", name, want, got)
	}
	return nil
}

// decodeRecord decodes the value stored under name in a file of the given
// schema; every error is a CorruptError naming the key.
func decodeRecord(schema int, name, v []byte) (Key, error) {
	var k Key
	js := v
	if schema >= 2 {
		if err := checkRecord(schema, name, v); err != nil {
			return k, err
		}
		js = v[crcSize:]
	}
	if err := json.Unmarshal(js, &k); err != nil {
		return k, corrupt("record %q: %v", name, err)
	}
	if k.Name != string(name) {
		return k, corrupt("record %q holds the record of %q", name, k.Name)
	}
	return k, nil
}
