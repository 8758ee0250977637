/* payload_xml: XML bodies as webhook reads them (mxj's NewMapXmlReader
 * over Go's strict encoding/xml; ../shared/COMPAT-WEBHOOK.md § Parameters).
 *
 * xml_to_json appends to out the JSON object webhook's payload map would
 * marshal to: {"root": value}, where an element's value is its trimmed
 * text when text came before any attribute or child, else a map of
 * "-attr" (local name), child elements (a repeated name becomes an array
 * in document order) and "#text" (the last trimmed text after the first
 * attribute or child), and "" when it has none of these. Names are local
 * names (a namespace prefix is dropped as Go does). Only the first
 * element is read: what follows it is ignored, as mxj ignores it.
 *
 * What Go's decoder refuses is refused here: bad names, unquoted
 * attributes, mismatched tags, entities other than the five predefined
 * and character references, "--" in comments, "]]>" in text, invalid
 * UTF-8 or characters outside XML's range, an encoding other than UTF-8.
 * A DOCTYPE is skipped (bounded, never expanded), so an entity it
 * declares is an unknown entity. Work and memory are linear in len:
 * nesting is capped at XML_MAX_DEPTH, nodes at XML_MAX_NODES.
 * Returns 0; -1 malformed (why: "XML syntax error on line N: ..." or
 * "EOF" when there is no element); -2 over a cap or out full. */
#ifndef EDGEHOOK_PAYLOAD_XML_H
#define EDGEHOOK_PAYLOAD_XML_H

#include <stddef.h>

#include "edgehook/buf.h"

/* The JSON an XML document becomes nests at most 2 * XML_MAX_DEPTH + 1
 * deep (a map and an array per element): parse it with XML_JSON_DEPTH. */
enum { XML_MAX_DEPTH = 255, XML_JSON_DEPTH = 2 * XML_MAX_DEPTH + 2, XML_MAX_NODES = 1 << 19 };

int xml_to_json(struct buf *out, const char *body, size_t len, char *why, size_t whycap);

#endif
