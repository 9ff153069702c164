/**
 * One run: unit specs beside the code (*.spec.ts), e2e specs against the real
 * broker (test/e2e/*.e2e-spec.ts) and fault specs that run the built apps as
 * child processes (test/fault/*.fault-spec.ts).
 */
module.exports = {
  rootDir: '.',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test'],
  testRegex: '\\.(spec|e2e-spec|fault-spec)\\.ts$',
  moduleFileExtensions: ['ts', 'js', 'json'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  moduleNameMapper: {
    '^@app/fib(|/.*)$': '<rootDir>/libs/fib/src$1',
    '^@app/contracts(|/.*)$': '<rootDir>/libs/contracts/src$1',
    '^@app/rpc-client(|/.*)$': '<rootDir>/libs/rpc-client/src$1',
    '^@app/runtime(|/.*)$': '<rootDir>/libs/runtime/src$1',
    '^@app/observability(|/.*)$': '<rootDir>/libs/observability/src$1',
  },
  setupFiles: ['<rootDir>/test/support/jest.setup.ts'],
  testEnvironment: 'node',
  testTimeout: 30000,
  maxWorkers: 2,
};
