export function mockApi() {
  return { name: 'apono-mock-api' };
}
