export const contactOpenApi = {};
