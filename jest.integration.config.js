/**
 * Integration tests against a real PostgreSQL and a real Kafka. The global setup starts both once
 * per run (or uses TEST_DATABASE_URL / TEST_KAFKA_BROKERS when they are set) and stops them after.
 */
module.exports = {
  displayName: 'integration',
  testEnvironment: 'node',
  roots: ['<rootDir>/test/integration'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  setupFilesAfterEnv: ['<rootDir>/test/integration-setup.ts'],
  testTimeout: 120000,
  maxWorkers: 2,
};
