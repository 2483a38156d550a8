// Types of the ESM entry: the same declarations as the CommonJS build.
export * from '../dist/index.js'
