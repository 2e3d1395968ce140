/**
 * Connection info for the services the integration run uses: started by the global setup, or
 * given by the caller through TEST_DATABASE_URL / TEST_KAFKA_BROKERS.
 */
function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`${name} is not set; run integration tests through jest.integration.config.js`);
  }
  return value;
}

export function testDatabaseUrl(): string {
  return required('TEST_DATABASE_URL');
}

export function testKafkaBrokers(): string[] {
  return required('TEST_KAFKA_BROKERS').split(',');
}
