"""layer: z = W·x + b, s = softmax(z), a loss, and the gradients dW, db, dx."""
