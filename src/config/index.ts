/**
 * Configuration: YAML file < DAMSELFLY_* environment < command-line flags, checked against one
 * schema. The options table (options.ts) documents every option and its default.
 */
export { loadConfig } from './load-config.js'
export type { LoadConfigInit } from './load-config.js'
export { createConfigSchema, defaultP2PPort, formatHostPort, parseByteSize, parseDnsName, parseHostPort } from './schema.js'
export type { ConfigSchemaInit, DamselflyConfig, HostPort, NodeRole, SchemaConfig } from './schema.js'
export { configHelp, formatDefault, optionFor, options } from './options.js'
export type { OptionKey, OptionKind, OptionSpec, OptionValue } from './options.js'
